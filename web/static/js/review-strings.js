/**
 * The words of the recording review pages (/review, /review/{id}), in Chinese and English.
 *
 * Kept in their own file, but added to i18n.js's dictionary (`extend`), so `t`, `label` and the
 * language switch work for them as for every other page.
 */

import { extend, label, t } from "./i18n.js";

/** @type {Record<string, {zh: string, en: string}>} */
const STRINGS = {
  "review.title": { zh: "录像审查 · 家医", en: "Recording review · Jiayi" },
  "review.heading": { zh: "问诊录像审查", en: "Consult recordings" },
  "review.list": { zh: "录像列表", en: "Recordings" },
  "review.filters": { zh: "筛选", en: "Filters" },
  "review.any": { zh: "全部", en: "All" },
  "review.doctor": { zh: "发起医生", en: "Doctor" },
  "review.find_name": { zh: "查找姓名", en: "Find a name" },
  "review.find_name_hint": { zh: "输入医生或居民姓名中的字", en: "Part of a doctor's or resident's name" },
  "review.find": { zh: "查找", en: "Find" },
  "review.people_truncated": {
    zh: "名单较长，菜单只列出前 {n} 位；请用“查找姓名”找到要筛选的人。",
    en: "The list is long: the menus show the first {n} only. Use “Find a name” to reach anyone else.",
  },
  "review.people_found": {
    zh: "找到医生 {doctors} 位、居民 {residents} 位，已列入下面的菜单。",
    en: "Found {doctors} doctors and {residents} residents: they are in the menus below.",
  },
  "review.people_none": { zh: "没有找到姓名含“{q}”的医生或居民。", en: "No doctor or resident named like “{q}”." },
  "review.resident": { zh: "居民", en: "Resident" },
  "review.date_from": { zh: "开始日期", en: "From" },
  "review.date_to": { zh: "结束日期", en: "To" },
  "review.kind": { zh: "问诊类型", en: "Consult kind" },
  "review.consent": { zh: "同意情况", en: "Consent" },
  "review.held": { zh: "法律保留", en: "Legal hold" },
  "review.complete": { zh: "完整性", en: "Completeness" },
  "review.apply": { zh: "筛选", en: "Apply" },
  "review.reset": { zh: "清除筛选", en: "Clear" },
  "review.count": { zh: "共 {n} 条", en: "{n} recordings" },
  "review.count_max": {
    zh: "共 {n} 条（最多显示 500 条，请缩小筛选范围）",
    en: "{n} recordings (at most 500 are shown: narrow the filters)",
  },
  "review.empty": { zh: "没有符合条件的录像。", en: "No recordings match these filters." },
  "review.empty_none": { zh: "还没有任何录像。", en: "There are no recordings yet." },
  "review.forbidden": {
    zh: "只有质控人员和居民本人（或授权家属）可以查看录像。",
    en: "Only compliance officers and the resident (or an authorised family member) see recordings.",
  },
  "review.col_resident": { zh: "居民", en: "Resident" },
  "review.col_kind": { zh: "类型", en: "Kind" },
  "review.col_doctor": { zh: "医生", en: "Doctor" },
  "review.col_started": { zh: "开始", en: "Started" },
  "review.col_ended": { zh: "结束", en: "Ended" },
  "review.col_duration": { zh: "时长", en: "Length" },
  "review.col_state": { zh: "状态", en: "State" },
  "review.col_open": { zh: "操作", en: "Open" },
  "review.open": { zh: "审查", en: "Review" },
  "review.open_own": { zh: "查看", en: "View" },
  "review.back": { zh: "← 返回录像列表", en: "← Back to recordings" },

  "consent.all_granted": { zh: "均已同意", en: "All consented" },
  "consent.refused": { zh: "有人拒绝或撤回", en: "Refused or withdrawn" },
  "held.true": { zh: "保留中", en: "On hold" },
  "held.false": { zh: "未保留", en: "No hold" },
  "complete.true": { zh: "完整", en: "Complete" },
  "complete.false": { zh: "不完整", en: "Incomplete" },
  "review.destroyed": { zh: "已按期销毁", en: "Destroyed (retention)" },
  "review.expires": { zh: "保存至 {date}", en: "Kept until {date}" },

  "status.waiting": { zh: "等待同意", en: "Waiting for consent" },
  "status.running": { zh: "录制中", en: "Recording" },
  "status.paused": { zh: "已暂停", en: "Paused" },
  "status.ended": { zh: "已结束", en: "Ended" },
  "status.incomplete": { zh: "中断", en: "Interrupted" },

  // --- One recording ---------------------------------------------------------------
  "rec.title": { zh: "录像审查 · 家医", en: "Recording review · Jiayi" },
  "rec.heading": { zh: "{name} · {kind}", en: "{name} · {kind}" },
  "rec.summary": {
    zh: "发起医生 {doctor} · 开始 {started} · 结束 {ended} · 时长 {duration}",
    en: "Requested by {doctor} · started {started} · ended {ended} · length {duration}",
  },
  "rec.not_found": { zh: "找不到这段录像。", en: "This recording was not found." },
  "rec.forbidden": {
    zh: "您无权查看这段录像。",
    en: "You are not allowed to see this recording.",
  },
  "rec.player": { zh: "回放", en: "Playback" },
  "rec.purpose_note": {
    zh: "每次查看都会记录目的和查看人。",
    en: "Every viewing is recorded with its purpose and who viewed.",
  },
  "rec.purpose": { zh: "查看目的（必填）", en: "Purpose of viewing (required)" },
  "rec.purpose_hint": { zh: "例如：投诉核查、质量抽查", en: "e.g. complaint check, quality audit" },
  "rec.purpose_short": {
    zh: "请写明查看目的（至少 2 个字）。",
    en: "Please state the purpose (at least 2 characters).",
  },
  "rec.start_view": { zh: "开始查看", en: "Start viewing" },
  "rec.viewing_as": {
    zh: "查看目的：{purpose}（已记录，链接 {time} 前有效）",
    en: "Purpose: {purpose} (recorded; links valid until {time})",
  },
  "rec.destroyed_note": {
    zh: "这段录像已按保存期限销毁，无法回放。",
    en: "This recording was destroyed at the end of its retention period and cannot be played.",
  },
  "rec.no_tracks": { zh: "这段录像没有任何音视频轨道。", en: "This recording has no tracks." },
  "rec.play": { zh: "播放", en: "Play" },
  "rec.pause": { zh: "暂停", en: "Pause" },
  "rec.seek": { zh: "播放位置", en: "Position" },
  "rec.audio_only": { zh: "仅音频", en: "Audio only" },
  "rec.video_only": { zh: "无音频", en: "No audio" },
  "rec.track_kind.video": { zh: "视频", en: "video" },
  "rec.track_kind.audio": { zh: "音频", en: "audio" },
  "rec.media_error": {
    zh: "部分轨道无法播放（链接可能已过期）。请重新填写目的再查看。",
    en: "Some tracks cannot be played (the links may have expired). State the purpose again to view.",
  },

  "rec.timeline": { zh: "录制时间线", en: "Recording timeline" },
  "rec.timeline_empty": { zh: "没有时间线记录。", en: "No timeline marks." },
  "rec.seek_here": { zh: "跳到 {offset}", en: "Go to {offset}" },
  "rec.seek_needs_view": {
    zh: "填写查看目的并开始查看后，可点击时间跳转。",
    en: "After you state a purpose and start viewing, click a time to go there.",
  },
  "tl.requested": { zh: "发起录制", en: "Requested" },
  "tl.started": { zh: "开始录制", en: "Started" },
  "tl.paused": { zh: "暂停录制", en: "Paused" },
  "tl.resumed": { zh: "恢复录制", en: "Resumed" },
  "tl.stopped": { zh: "停止录制", en: "Stopped" },
  "tl.failed": { zh: "录制故障", en: "Failed" },
  "tl.standing_consent": { zh: "按签约长期同意", en: "Standing consent" },
  "tl.about": { zh: "涉及：{names}", en: "About: {names}" },

  "rec.chat": { zh: "问诊聊天记录", en: "Consult chat" },
  "rec.chat_empty": { zh: "这次问诊没有聊天记录。", en: "No chat in this consult." },

  "rec.consents": { zh: "录制同意记录", en: "Recording consent" },
  "rec.consents_empty": { zh: "没有同意记录。", en: "No consent records." },
  "rec.col_who": { zh: "谁", en: "Who" },
  "rec.col_for": { zh: "代表", en: "For" },
  "rec.col_decision": { zh: "决定", en: "Decision" },
  "rec.col_time": { zh: "时间", en: "Time" },
  "rec.col_version": { zh: "告知文本版本", en: "Text version" },
  "rec.self": { zh: "本人", en: "Self" },
  "rec.source_standing": { zh: "签约长期同意", en: "Standing consent (contract)" },
  "rec.for_resident": { zh: "居民 #{id}", en: "Resident #{id}" },
  "decision.granted": { zh: "同意", en: "Granted" },
  "decision.refused": { zh: "拒绝", en: "Refused" },
  "decision.withdrawn": { zh: "撤回", en: "Withdrawn" },

  "rec.holds": { zh: "法律保留", en: "Legal holds" },
  "rec.holds_empty": {
    zh: "没有保留。到期后录像将按保存期限销毁。",
    en: "No holds. The recording will be destroyed when its retention ends.",
  },
  "rec.hold_reason": { zh: "保留原因（必填）", en: "Reason for the hold (required)" },
  "rec.hold_reason_hint": { zh: "例如：投诉编号 2026-031 调查中", en: "e.g. complaint 2026-031 under investigation" },
  "rec.reason_short": {
    zh: "请写明原因（至少 2 个字）。",
    en: "Please state the reason (at least 2 characters).",
  },
  "rec.set_hold": { zh: "设置保留", en: "Set hold" },
  "rec.release_hold": { zh: "解除保留", en: "Release hold" },
  "rec.release_confirm": { zh: "确定解除这项保留吗？", en: "Release this hold?" },
  "rec.hold_active": { zh: "生效中", en: "Active" },
  "rec.hold_released": { zh: "已于 {time} 解除", en: "Released {time}" },
  "rec.hold_set": { zh: "{time} 由 {who} 设置", en: "Set {time} by {who}" },

  "rec.export": { zh: "导出", en: "Export" },
  "rec.export_reason": { zh: "导出原因（必填）", en: "Reason for export (required)" },
  "rec.export_reason_hint": { zh: "例如：应卫健委调阅", en: "e.g. requested by the health commission" },
  "rec.export_button": { zh: "导出录像", en: "Export recording" },
  "rec.export_ready": {
    zh: "导出已记录。下载链接 {time} 前有效：",
    en: "The export is recorded. Download links are valid until {time}:",
  },
  "rec.download": { zh: "下载 {name} 的{kind}", en: "Download {name}'s {kind}" },

  "rec.access": { zh: "访问记录", en: "Access trail" },
  "rec.access_empty": { zh: "还没有访问记录。", en: "No access yet." },
  "rec.col_action": { zh: "操作", en: "Action" },
  "rec.col_user": { zh: "人员", en: "User" },
  "rec.col_purpose": { zh: "目的 / 原因", en: "Purpose" },
  "rec.col_outcome": { zh: "结果", en: "Outcome" },
  "action.view": { zh: "查看回放", en: "Viewed" },
  "action.export": { zh: "导出", en: "Exported" },
  "action.hold": { zh: "设置保留", en: "Set hold" },
  "action.release_hold": { zh: "解除保留", en: "Released hold" },
  "action.read": { zh: "打开详情", en: "Opened" },
  "action.list": { zh: "列表", en: "Listed" },
  "outcome.success": { zh: "成功", en: "OK" },
  "outcome.ok": { zh: "成功", en: "OK" },
  "outcome.denied": { zh: "被拒绝", en: "Denied" },
  "outcome.failure": { zh: "失败", en: "Failed" },
};

extend(STRINGS);

/** The review pages' words go through i18n.js like every other page's. */
export { label as rlabel, t as rt };

/** Fill elements marked data-rt (text), data-rt-placeholder and data-rt-title. */
export function applyReviewI18n(root = document) {
  for (const node of root.querySelectorAll("[data-rt]")) node.textContent = t(node.dataset.rt);
  for (const node of root.querySelectorAll("[data-rt-placeholder]")) {
    node.placeholder = t(node.dataset.rtPlaceholder);
  }
}

/** "1:05" or "1:02:03" for seconds. */
export function clock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** Seconds between two ISO date-times, or null. */
export function secondsBetween(from, to) {
  if (!from || !to) return null;
  const a = Date.parse(from);
  const b = Date.parse(to);
  return Number.isNaN(a) || Number.isNaN(b) ? null : Math.max(0, (b - a) / 1000);
}
