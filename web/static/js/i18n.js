/**
 * Every word Jiayi's pages show, in Chinese and English, and the current language.
 *
 * Chinese is the default: most residents and doctors read it first. Each key holds both
 * languages side by side so a missing translation is visible in review. `{name}` marks a
 * value filled in by `t(key, {name: ...})`. Enum labels are keyed `<group>.<value>`
 * (e.g. `kind.follow_up`) and looked up with `label(group, value)`.
 */

/** localStorage key remembering the reader's language. */
export const LANG_KEY = "jiayi.lang";

/** @type {Record<string, {zh: string, en: string}>} */
const STRINGS = {
  // --- Page frame ---------------------------------------------------------------------
  "app.name": { zh: "家医", en: "Jiayi" },
  // The switch names the language it switches *to*, written in that language.
  "lang.switch": { zh: "English", en: "中文" },
  "nav.home": { zh: "首页", en: "Home" },
  "nav.logout": { zh: "退出", en: "Log out" },
  "common.loading": { zh: "正在加载…", en: "Loading…" },
  "common.back_home": { zh: "返回首页", en: "Back to home" },
  "common.list_sep": { zh: "、", en: ", " },
  "common.cancel": { zh: "取消", en: "Cancel" },

  // --- Errors -------------------------------------------------------------------------
  "error.generic": { zh: "出错了，请稍后再试。", en: "Something went wrong. Please try again later." },
  "error.network": {
    zh: "连不上服务器，请检查网络后再试。",
    en: "Cannot reach the server. Please check your connection and try again.",
  },
  "error.forbidden": { zh: "您无权进行此操作。", en: "You are not allowed to do this." },
  "error.not_found": { zh: "找不到您要的内容。", en: "Not found." },
  "error.server": {
    zh: "服务器出了问题，请稍后再试。",
    en: "The server had a problem. Please try again later.",
  },
  "error.too_many": {
    zh: "尝试次数太多，请 {seconds} 秒后再试。",
    en: "Too many attempts. Please try again in {seconds} seconds.",
  },
  "error.too_many_minutes": {
    zh: "尝试次数太多，请 {minutes} 分钟后再试。",
    en: "Too many attempts. Please try again in {minutes} minutes.",
  },
  "error.too_many_later": {
    zh: "尝试次数太多，请稍后再试。",
    en: "Too many attempts. Please try again later.",
  },
  // Refusals of the live connection (docs/protocol.md), by their code.
  "error.timeout": {
    zh: "网络太慢，没有收到回应，请稍后再试。",
    en: "The network is slow and no answer came back. Please try again.",
  },
  "error.rate_limited": { zh: "操作太快了，请稍等一下再试。", en: "Too fast. Please wait a moment and try again." },
  "error.not_authenticated": { zh: "请重新登录。", en: "Please log in again." },
  "error.not_admitted": {
    zh: "医生还没有请您进入，请回到候诊页面稍候。",
    en: "The doctor has not let you in yet. Please wait in the waiting room.",
  },
  "error.too_early": {
    zh: "还没到候诊时间：预约时间前 30 分钟才能进入候诊。",
    en: "It is too early: the waiting room opens 30 minutes before your appointment.",
  },
  "error.consult_not_waiting": {
    zh: "这次问诊已经不在候诊中了。",
    en: "This consult is no longer waiting.",
  },
  "error.consult_closed": { zh: "这次问诊已经结束。", en: "This consult is over." },
  "error.not_waiting": {
    zh: "这位居民已经不在候诊队列里了。",
    en: "This resident is no longer in the waiting room.",
  },
  "error.scope_missing": {
    zh: "您的家属授权不包括这项操作。",
    en: "Your family authorisation does not cover this.",
  },
  "error.not_your_resident": {
    zh: "这位居民不是您团队的签约居民。",
    en: "This resident is not signed with your team.",
  },
  "error.no_care_team": {
    zh: "还没有签约家庭医生团队，暂时不能发消息。",
    en: "No family-doctor team is signed yet, so messages cannot be sent.",
  },
  "error.cards_by_team": { zh: "只有医护人员可以发送卡片。", en: "Only the care team sends cards." },
  "error.invite_invalid": {
    zh: "这个邀请链接无效，请向邀请您的医生要一个新的链接。",
    en: "This invite link is not valid. Please ask the doctor for a new one.",
  },
  "error.invite_used": {
    zh: "这个邀请链接已经用过了，每个链接只能用一次。请向医生要一个新的链接。",
    en: "This invite link has already been used; each link works once. Please ask the doctor for a new one.",
  },
  "error.invite_expired": {
    zh: "这个邀请链接已过期（有效期 24 小时）。请向医生要一个新的链接。",
    en: "This invite link has expired (links last 24 hours). Please ask the doctor for a new one.",
  },
  "error.invite_wrong_role": {
    zh: "邀请链接只供专科医生使用。",
    en: "Invite links are for specialists only.",
  },
  "error.file_type": {
    zh: "只能发送照片（JPEG、PNG、WebP）或 PDF 文件。",
    en: "Only photos (JPEG, PNG, WebP) and PDF files can be sent.",
  },
  "error.file_too_large": { zh: "文件太大了，最大 10 MB。", en: "The file is too large (10 MB at most)." },
  "error.empty_audience": {
    zh: "没有符合条件的签约居民，请放宽条件。",
    en: "No signed resident matches. Please widen the audience.",
  },
  "error.section_forbidden": {
    zh: "您的角色不能查看这部分内容。",
    en: "Your role may not see this part.",
  },

  // --- Login --------------------------------------------------------------------------
  "login.title": { zh: "登录 · 家医", en: "Log in · Jiayi" },
  "login.heading": { zh: "家医 · 家庭医生服务", en: "Jiayi · Family doctor service" },
  "login.intro": { zh: "请输入用户名和密码。", en: "Enter your username and password." },
  "login.username": { zh: "用户名", en: "Username" },
  "login.password": { zh: "密码", en: "Password" },
  "login.show_password": { zh: "显示密码", en: "Show password" },
  "login.hide_password": { zh: "隐藏密码", en: "Hide password" },
  "login.button": { zh: "登录", en: "Log in" },
  "login.busy": { zh: "正在登录…", en: "Logging in…" },
  "login.need_username": { zh: "请输入用户名。", en: "Please enter your username." },
  "login.need_password": { zh: "请输入密码。", en: "Please enter your password." },
  "login.wrong": {
    zh: "用户名或密码不对，请重新输入。",
    en: "Wrong username or password. Please try again.",
  },

  // --- Workbench ----------------------------------------------------------------------
  "workbench.title": { zh: "工作台 · 家医", en: "Workbench · Jiayi" },
  "workbench.heading": { zh: "工作台", en: "Workbench" },
  "workbench.today_is": { zh: "今天是 {date}", en: "Today is {date}" },
  "workbench.due": { zh: "随访到期", en: "Follow-ups due" },
  "workbench.due_empty": { zh: "目前没有到期的随访。", en: "No follow-ups are due." },
  "workbench.due_on": { zh: "到期日 {date}", en: "Due {date}" },
  "workbench.overdue": { zh: "已逾期", en: "Overdue" },
  "workbench.consults": { zh: "今日问诊", en: "Today's consults" },
  "workbench.consults_empty": { zh: "今天没有问诊。", en: "No consults today." },
  "workbench.inbox": { zh: "消息与候诊", en: "Messages and waiting room" },
  "search.heading": { zh: "查找居民", en: "Find a resident" },
  "search.label": { zh: "姓名、身份证号、电话或标签", en: "Name, ID number, phone or tag" },
  "search.button": { zh: "搜索", en: "Search" },
  "search.empty": { zh: "没有找到符合条件的居民。", en: "No resident matches." },
  "search.total": { zh: "共找到 {total} 人", en: "{total} found" },
  "search.more": { zh: "显示更多", en: "Show more" },

  // --- Resident record ----------------------------------------------------------------
  "record.title": { zh: "居民档案 · 家医", en: "Resident record · Jiayi" },
  "record.forbidden": {
    zh: "您无权查看此居民档案。",
    en: "You may not view this resident's record.",
  },
  "record.not_found": { zh: "找不到这位居民。", en: "No such resident." },
  "record.shared": {
    zh: "会诊共享视图：部分内容不显示。",
    en: "Shared view for a referral consult: some parts are not shown.",
  },
  "record.details": { zh: "基本信息", en: "Personal details" },
  "record.age": { zh: "{age} 岁", en: "{age} years" },
  "record.allergies": { zh: "过敏：{list}", en: "Allergies: {list}" },
  "record.reason": { zh: "原因：{reason}", en: "Reason: {reason}" },
  "record.no_allergies": { zh: "无已知过敏", en: "No known allergies" },
  "record.conditions": { zh: "疾病诊断", en: "Conditions" },
  "record.conditions_empty": { zh: "没有记录的疾病。", en: "No conditions recorded." },
  "record.offline": { zh: "线下确诊", en: "Diagnosed offline" },
  "record.offline_at": { zh: "于 {place}", en: "at {place}" },
  "record.not_offline": {
    zh: "未经线下确诊（不能在线复诊）",
    en: "Not diagnosed offline (no online follow-up visit)",
  },
  "record.inactive": { zh: "既往", en: "Past" },
  "record.contract": { zh: "签约", en: "Contract" },
  "record.contract_none": { zh: "还没有签约。", en: "No contract yet." },
  "record.standing": { zh: "随访录像长期同意", en: "Standing consent to record follow-ups" },
  "record.standing_yes": { zh: "已同意（{date} 起）", en: "Agreed (since {date})" },
  "record.standing_no": { zh: "未同意：每次录像前询问", en: "Not given: asked each time" },
  "record.plans": { zh: "随访计划", en: "Follow-up plans" },
  "record.plans_empty": { zh: "没有随访计划。", en: "No follow-up plans." },
  "record.every": { zh: "每 {days} 天一次", en: "Every {days} days" },
  "record.plan_from": { zh: "自 {date} 起", en: "from {date}" },
  "record.plan_stopped": { zh: "已停止", en: "Stopped" },
  "record.tasks": { zh: "待办随访", en: "Follow-ups due" },
  "record.tasks_empty": { zh: "没有待办随访。", en: "No follow-ups due." },
  "record.consults": { zh: "近期问诊", en: "Recent consults" },
  "record.consults_empty": { zh: "没有问诊记录。", en: "No consults yet." },
  "record.vitals": { zh: "最近体征", en: "Latest vital signs" },
  "record.vitals_empty": { zh: "还没有体征记录。", en: "No vital signs recorded." },

  "field.birth_date": { zh: "出生日期", en: "Date of birth" },
  "field.id_number": { zh: "身份证号", en: "ID number" },
  "field.phone": { zh: "电话", en: "Phone" },
  "field.address": { zh: "住址", en: "Address" },
  "field.tags": { zh: "标签", en: "Tags" },
  "field.team": { zh: "团队", en: "Team" },
  "field.package": { zh: "服务包", en: "Package" },
  "field.period": { zh: "有效期", en: "Period" },
  "field.status": { zh: "状态", en: "Status" },

  "vitals.blood_pressure": { zh: "血压", en: "Blood pressure" },
  "vitals.heart_rate": { zh: "心率", en: "Heart rate" },
  "vitals.glucose": { zh: "血糖", en: "Blood glucose" },
  "vitals.temperature": { zh: "体温", en: "Temperature" },
  "vitals.spo2": { zh: "血氧", en: "Oxygen saturation" },
  "vitals.weight": { zh: "体重", en: "Weight" },
  "vitals.taken_at": { zh: "测量时间", en: "Measured" },
  "unit.bpm": { zh: "次/分", en: "bpm" },

  // --- Home (resident, proxy) ---------------------------------------------------------
  "home.title": { zh: "我的首页 · 家医", en: "My home · Jiayi" },
  "home.greeting": { zh: "您好，{name}", en: "Hello, {name}" },
  "home.team": { zh: "我的家庭医生团队", en: "My family-doctor team" },
  "home.no_team": {
    zh: "您还没有签约家庭医生团队。",
    en: "You have not signed with a family-doctor team yet.",
  },
  "home.next_followup": { zh: "下次随访", en: "Next follow-up" },
  "home.no_followup": { zh: "暂时没有随访安排。", en: "No follow-up planned yet." },
  "home.upcoming": { zh: "即将进行的问诊", en: "Upcoming consults" },
  "home.no_upcoming": { zh: "暂时没有预约。", en: "Nothing booked." },
  "home.open_record": { zh: "查看我的健康档案", en: "View my health record" },
  "home.open_chat": { zh: "给家庭医生发消息", en: "Message my family doctor" },
  "home.proxy_chat": { zh: "替{name}发消息", en: "Message the doctors for {name}" },
  "home.no_resident": {
    zh: "您的账号还没有关联居民档案，请联系您的家庭医生。",
    en: "Your account is not linked to a resident record yet. Please ask your family doctor.",
  },
  "home.proxy_heading": { zh: "我代理的家人", en: "Family members I act for" },
  "home.proxy_intro": {
    zh: "点一下家人的名字，查看他（她）的健康档案。",
    en: "Tap a name to open that person's health record.",
  },
  "home.proxy_empty": {
    zh: "您还没有绑定家人。",
    en: "You are not linked to any family member yet.",
  },
  "home.proxy_relation": { zh: "您是{name}的{relation}", en: "You are {name}'s {relation}" },
  "home.proxy_scopes": { zh: "可以代办：{scopes}", en: "You may: {scopes}" },

  // --- Standing consent to recording follow-ups, on the contract (standing.js) -------------
  "standing.title": { zh: "随访录像：长期同意", en: "Recording my follow-ups: standing consent" },
  "standing.title_for": {
    zh: "{name}的随访录像：长期同意",
    en: "Recording {name}'s follow-ups: standing consent",
  },
  "standing.in_force": { zh: "已同意", en: "Agreed" },
  "standing.since": { zh: "{date} 起有效", en: "since {date}" },
  "standing.given_by": { zh: "由{name}代为同意", en: "given by {name}" },
  "standing.not_given": { zh: "未同意", en: "Not agreed" },
  "standing.not_given_detail": {
    zh: "每次随访录像前都会先问您。",
    en: "You are asked before each follow-up is recorded.",
  },
  "standing.give": { zh: "我同意随访录像", en: "I agree to my follow-ups being recorded" },
  "standing.give_for": { zh: "替{name}同意随访录像", en: "Agree for {name}" },
  "standing.withdraw": { zh: "取消长期同意", en: "Cancel my standing consent" },
  "standing.withdraw_for": { zh: "替{name}取消长期同意", en: "Cancel it for {name}" },
  "standing.done_given": {
    zh: "已记录您的同意。以后的随访录像不再每次询问，您随时可以取消。",
    en: "Your consent is recorded. Follow-ups are recorded without asking each time; you may cancel at any time.",
  },
  "standing.done_withdrawn": {
    zh: "已取消。以后每次随访录像前都会先问您。",
    en: "Cancelled. You will be asked before each follow-up is recorded.",
  },
  "standing.no_contract": {
    zh: "签约家庭医生后才能设置长期同意。",
    en: "A standing consent is given on your contract: sign with a family-doctor team first.",
  },
  "error.standing_consent_exists": {
    zh: "长期同意已经有效，不用再点。",
    en: "The standing consent is already in force.",
  },
  "error.no_standing_consent": {
    zh: "现在没有有效的长期同意。",
    en: "No standing consent is in force.",
  },
  "error.no_contract": {
    zh: "还没有有效的签约，不能设置长期同意。",
    en: "There is no contract in force to give it on.",
  },
  "error.resident_consents": {
    zh: "录像的长期同意只能由居民本人或授权家属设置。",
    en: "Only the resident, or a family member they authorised, gives this consent.",
  },

  // --- Live connection ----------------------------------------------------------------
  "live.connecting": { zh: "正在连接…", en: "Connecting…" },
  "live.reconnecting": {
    zh: "网络连接中断，正在重新连接…",
    en: "The connection dropped. Reconnecting…",
  },

  // --- Messages (shared by chat, inbox and the consult room) ---------------------------
  "chat.title": { zh: "消息 · 家医", en: "Messages · Jiayi" },
  "chat.heading": { zh: "和家庭医生团队聊天", en: "Talk to your family-doctor team" },
  "chat.heading_proxy": { zh: "替{name}联系家庭医生", en: "Talk to the doctors for {name}" },
  "chat.choose": { zh: "您要替哪位家人发消息？", en: "Who are you writing for?" },
  "chat.consult_heading": { zh: "您有一次问诊", en: "You have a consult" },
  "chat.check_in": { zh: "进入候诊", en: "Check in" },
  "chat.back_to_consult": { zh: "回到问诊", en: "Back to the consult" },
  "chat.messages": { zh: "消息记录", en: "Messages" },
  "chat.empty": {
    zh: "还没有消息。有问题可以在下面留言，医生会回复您。",
    en: "No messages yet. Write below and the doctors will answer.",
  },
  "chat.empty_team": { zh: "还没有消息。", en: "No messages yet." },
  "chat.me": { zh: "我", en: "Me" },
  "chat.on_behalf": { zh: "{name}（代{resident}）", en: "{name} (for {resident})" },
  "chat.auto_reply": { zh: "自动回复", en: "Automatic reply" },
  "chat.system": { zh: "系统消息", en: "Notice" },
  "chat.read": { zh: "已读", en: "Read" },
  "chat.sent": { zh: "已发送", en: "Sent" },
  "chat.sending": { zh: "正在发送…", en: "Sending…" },
  "chat.uploading": { zh: "正在上传图片…", en: "Uploading the photo…" },
  "chat.retry": { zh: "重新发送", en: "Send again" },
  "chat.image_alt": { zh: "图片", en: "Photo" },
  "chat.image_failed": { zh: "图片打不开", en: "The photo could not be opened" },
  "chat.download": { zh: "下载文件", en: "Download the file" },
  "chat.preview_image": { zh: "[图片]", en: "[Photo]" },
  "chat.preview_file": { zh: "[文件]", en: "[File]" },
  "chat.input_label": { zh: "要发送的消息", en: "Your message" },
  "chat.input_placeholder": { zh: "在这里输入文字…", en: "Type here…" },
  "chat.image_button": { zh: "拍照 / 图片", en: "Photo" },
  "chat.send": { zh: "发送", en: "Send" },

  "card.report_link": { zh: "报告", en: "Report" },
  "card.booking_link": { zh: "预约", en: "Booking" },
  "card.article": { zh: "健康知识", en: "Article" },
  "card.followup_reminder": { zh: "随访提醒", en: "Follow-up reminder" },
  "card.due": { zh: "请在 {date} 前来随访", en: "Please come by {date}" },
  "card.compose": { zh: "发送卡片（报告、预约、文章、随访提醒）", en: "Send a card (report, booking, article, reminder)" },
  "card.type": { zh: "卡片类型", en: "Card type" },
  "card.title": { zh: "标题", en: "Title" },
  "card.url": { zh: "链接地址", en: "Link" },
  "card.due_date": { zh: "随访日期", en: "Follow-up date" },
  "card.send": { zh: "发送卡片", en: "Send the card" },
  "card.need_title": { zh: "请填写标题。", en: "Please give a title." },
  "card.need_url": {
    zh: "请填写以 https:// 或 / 开头的链接。",
    en: "Please give a link starting with https:// or /.",
  },
  "card.need_date": { zh: "请选择随访日期。", en: "Please pick the follow-up date." },

  // --- Consult room ---------------------------------------------------------------------
  "room.title": { zh: "问诊 · 家医", en: "Consult · Jiayi" },
  "room.heading": { zh: "在线问诊", en: "Online consult" },
  "room.connecting": { zh: "正在连接…", en: "Connecting…" },
  "room.waiting": { zh: "正在等待医生接诊…", en: "Waiting for the doctor…" },
  "room.ahead": { zh: "您前面还有 {count} 位", en: "{count} ahead of you" },
  "room.next": { zh: "您前面没有人了，下一位就是您", en: "Nobody is ahead of you: you are next" },
  "room.keep_open": {
    zh: "请不要关闭这个页面，医生接诊后会自动接通。",
    en: "Keep this page open: you will be connected when the doctor is ready.",
  },
  "room.scheduled_at": { zh: "您预约的时间是 {when}。", en: "Your appointment is at {when}." },
  "room.connected": { zh: "已进入诊室", en: "In the consult room" },
  "room.ended": { zh: "问诊已结束", en: "The consult has ended" },
  "room.cancelled": { zh: "这次问诊已取消", en: "This consult was cancelled" },
  "room.left": { zh: "您已离开问诊", en: "You have left the consult" },
  "room.removed": { zh: "医生已让您离开本次问诊", en: "The doctor has taken you out of this consult" },
  "room.present": { zh: "在场人员", en: "Who is here" },
  "room.chat": { zh: "问诊聊天", en: "Consult chat" },
  "room.video_soon": {
    zh: "视频区域 · 视频通话功能即将上线",
    en: "Video area · video calls are coming soon",
  },
  "room.leave": { zh: "离开", en: "Leave" },
  "room.leave_confirm": { zh: "确定要离开问诊吗？", en: "Leave the consult?" },
  "room.end": { zh: "结束问诊", en: "End consult" },
  "room.end_confirm": { zh: "确定结束这次问诊吗？所有人都会离开。", en: "End this consult for everyone?" },
  "room.invite": { zh: "邀请专家", en: "Invite specialist" },
  "room.invite_intro": {
    zh: "把这个链接发给专家（只能用一次，24 小时内有效）：",
    en: "Send this link to the specialist (single use, valid 24 hours):",
  },
  "room.invite_link": { zh: "邀请链接", en: "Invite link" },
  "room.copy": { zh: "复制", en: "Copy" },
  "room.copied": { zh: "已复制", en: "Copied" },
  "room.back_inbox": { zh: "返回消息与候诊", en: "Back to the inbox" },

  "room.next_followup": { zh: "下次随访日期：{date}", en: "Next follow-up due: {date}" },

  // --- Video call (call.js) -------------------------------------------------------------
  "call.label": { zh: "视频通话", en: "Video call" },
  "call.connecting": { zh: "正在连接视频…", en: "Connecting the video…" },
  "call.connected": { zh: "已接通", en: "Connected" },
  "call.weak": {
    zh: "网络较弱，已切换为仅语音",
    en: "Weak network: switched to audio only",
  },
  "call.audio_only_on": {
    zh: "仅语音通话（视频已关闭，更省流量）",
    en: "Audio only (video is off, using less data)",
  },
  "call.reconnecting": { zh: "连接中断，正在重连…", en: "The connection dropped. Reconnecting…" },
  "call.unavailable": {
    zh: "视频通话暂时不可用，请用下面的文字聊天。",
    en: "Video calls are not available right now. Please use the chat below.",
  },
  "call.ended": { zh: "通话已结束", en: "The call has ended" },
  "call.text_mode": {
    zh: "这是文字问诊，请用下面的聊天和医生交流。",
    en: "This is a text consult: please use the chat below.",
  },
  "call.no_webrtc": {
    zh: "这个浏览器不能视频通话，请用下面的文字聊天，或换用手机自带的浏览器。",
    en: "This browser cannot make video calls. Please use the chat below, or another browser.",
  },
  "call.waiting_doctor": { zh: "等待医生接诊…", en: "Waiting for the doctor…" },
  "call.waiting_others": { zh: "等待其他人加入视频…", en: "Waiting for the others to join the video…" },
  "call.muted_badge": { zh: "已静音", en: "Muted" },
  "call.camera_off_badge": { zh: "摄像头已关", en: "Camera off" },
  "call.mute": { zh: "静音", en: "Mute" },
  "call.unmute": { zh: "取消静音", en: "Unmute" },
  "call.camera_off": { zh: "关闭摄像头", en: "Camera off" },
  "call.camera_on": { zh: "打开摄像头", en: "Camera on" },
  "call.audio_only": { zh: "仅语音", en: "Audio only" },
  "call.try_video": { zh: "再试一下视频", en: "Try video again" },
  "call.video_back": { zh: "恢复视频", en: "Video back on" },
  "call.hang_up": { zh: "挂断", en: "Hang up" },
  "call.me": { zh: "我", en: "Me" },
  "call.sound": { zh: "听不到声音？点这里打开声音", en: "No sound? Tap here to turn it on" },
  "call.device.denied": {
    zh: "没有得到摄像头和麦克风的使用许可：您能看到、听到对方，对方看不到、听不到您。可以在浏览器设置里允许后刷新页面，或用文字聊天。",
    en: "No permission for the camera and microphone: you can see and hear the others, they cannot see or hear you. Allow them in the browser settings and reload, or use the chat.",
  },
  "call.device.insecure": {
    zh: "这个网页不是安全连接（https），浏览器不让用摄像头和麦克风：您能看到、听到对方，说话请用文字聊天。",
    en: "This page is not on a secure (https) connection, so the browser blocks the camera and microphone: you can see and hear the others; please write in the chat.",
  },
  "call.device.no_devices": {
    zh: "没有找到摄像头和麦克风：您能看到、听到对方，说话请用文字聊天。",
    en: "No camera or microphone found: you can see and hear the others; please write in the chat.",
  },
  "call.device.no_camera": {
    zh: "没有找到摄像头：对方能听到您，但看不到您。",
    en: "No camera found: the others can hear you but not see you.",
  },
  "call.device.no_mic": {
    zh: "没有找到麦克风：对方能看到您，但听不到您，说话请用文字聊天。",
    en: "No microphone found: the others can see you but not hear you; please write in the chat.",
  },

  // --- Recording the consult, with everyone's consent (call.js createRecording) ------------
  "rec.label": { zh: "录像", en: "Recording" },
  "rec.start": { zh: "开始录像", en: "Start recording" },
  "rec.stop": { zh: "停止录像", en: "Stop recording" },
  "rec.running": { zh: "正在录像", en: "Recording" },
  "rec.paused": { zh: "录像已暂停", en: "Recording paused" },
  "rec.paused_for": { zh: "录像已暂停：等待 {names} 同意", en: "Recording paused: waiting for {names} to agree" },
  "rec.waiting": { zh: "正在征求同意", en: "Asking everyone to agree" },
  "rec.waiting_for": { zh: "正在征求同意：等待 {names}", en: "Asking everyone to agree: waiting for {names}" },
  "rec.ended": { zh: "录像已结束", en: "Recording ended" },
  "rec.incomplete": {
    zh: "录像意外中断，已录下的部分已保存",
    en: "The recording stopped unexpectedly; what was recorded is kept",
  },
  "rec.someone": { zh: "一位参与者", en: "a participant" },
  "rec.you": { zh: "您", en: "you" },
  "rec.ask_title": { zh: "医生想为本次问诊录像，您同意吗？", en: "The doctor would like to record this consult. Do you agree?" },
  "rec.agree": { zh: "同意", en: "I agree" },
  "rec.refuse": { zh: "不同意", en: "I do not agree" },
  "rec.refused_note": {
    zh: "您没有同意录像，录像不会进行。问诊照常继续。",
    en: "You did not agree, so nothing is recorded. The consult goes on as usual.",
  },
  "rec.change_mind": { zh: "改为同意", en: "Agree after all" },
  "rec.withdraw": { zh: "撤回同意", en: "Withdraw my consent" },
  "rec.standing_note": {
    zh: "您在签约时已同意随访录像，所以这次没有再问您。您可以随时撤回。",
    en: "You gave standing consent to recording your follow-ups, so you were not asked again. You may withdraw at any time.",
  },
  "rec.withdrawn_note": {
    zh: "您已撤回同意，录像已暂停。",
    en: "You withdrew your consent; the recording is paused.",
  },
  "error.already_recording": {
    zh: "已经在录像或正在征求同意。",
    en: "This consult is already being recorded, or everyone is being asked.",
  },
  "error.no_recording": { zh: "现在没有录像请求。", en: "Nobody has asked to record right now." },
  "error.consult_not_running": { zh: "问诊还没开始或已结束。", en: "The consult is not running." },
  "error.no_consent_scope": {
    zh: "您没有代居民同意录像的授权。",
    en: "You are not authorised to agree on the resident's behalf.",
  },

  // --- Beside the call: record summary and visit note (callside.js) ----------------------
  "callside.record": { zh: "居民档案摘要", en: "Record summary" },
  "callside.due": { zh: "{title}：{date} 到期", en: "{title}: due {date}" },
  "callside.referral": { zh: "转诊原因与共享结果", en: "Referral reason and shared results" },
  "note.heading": { zh: "本次随访记录", en: "Visit note" },
  "note.subjective": { zh: "主诉（S）：居民说的情况", en: "Subjective (S): what the resident says" },
  "note.objective": { zh: "观察（O）：看到和测到的", en: "Objective (O): what you see and measure" },
  "note.vitals": { zh: "体征", en: "Vital signs" },
  "note.assessment": { zh: "评估（A）", en: "Assessment (A)" },
  "note.plan": { zh: "处理与建议（P）", en: "Plan (P)" },
  "note.next_visit": { zh: "下次随访日期", en: "Next visit date" },
  "note.save": { zh: "保存记录", en: "Save the note" },
  "note.saving": { zh: "正在保存…", en: "Saving…" },
  "note.saved": { zh: "已保存（{time}）", en: "Saved ({time})" },
  "note.check": { zh: "有几项需要改一下，请看标红的地方。", en: "Some fields need a change: see the marked ones." },
  "note.at_most": { zh: "不能大于 {n}", en: "At most {n}" },
  "note.at_least": { zh: "不能小于 {n}", en: "At least {n}" },
  "note.range": { zh: "应在 {low} 到 {high} 之间", en: "Should be between {low} and {high}" },
  "note.integer": { zh: "请填整数", en: "Please enter a whole number" },
  "note.number": { zh: "请填数字", en: "Please enter a number" },
  "note.diastolic_below": { zh: "舒张压要低于收缩压", en: "Diastolic must be below systolic" },
  "note.after_today": { zh: "下次随访日期要在今天之后", en: "The next visit must be after today" },
  "vitals.systolic": { zh: "收缩压（高压）", en: "Systolic" },
  "vitals.diastolic": { zh: "舒张压（低压）", en: "Diastolic" },

  "presence.connected": { zh: "在线", en: "Connected" },
  "presence.reconnecting": { zh: "正在重连", en: "Reconnecting" },
  "presence.left": { zh: "已离开", en: "Left" },

  // --- Inbox (doctor, nurse) ------------------------------------------------------------
  "inbox.title": { zh: "消息与候诊 · 家医", en: "Inbox · Jiayi" },
  "inbox.heading": { zh: "消息与候诊", en: "Messages and waiting room" },
  "inbox.only_team": {
    zh: "消息与候诊只供家庭医生团队使用。",
    en: "The inbox is for the family-doctor team.",
  },
  "inbox.conversations": { zh: "居民消息", en: "Conversations" },
  "inbox.no_conversations": { zh: "还没有居民发来消息。", en: "No conversations yet." },
  "inbox.no_messages": { zh: "（还没有消息）", en: "(no messages yet)" },
  "inbox.consult_chat": { zh: "问诊", en: "Consult" },
  "inbox.unread": { zh: "{count} 条未读", en: "{count} unread" },
  "inbox.panel": { zh: "对话", en: "Conversation" },
  "inbox.pick": { zh: "点一下居民的名字，打开和他（她）的对话。", en: "Tap a resident's name to open the conversation." },
  "inbox.open_record": { zh: "查看健康档案", en: "Open the health record" },
  "queue.heading": { zh: "候诊队列", en: "Waiting room" },
  "queue.empty": { zh: "现在没有人候诊。", en: "Nobody is waiting." },
  "queue.admit": { zh: "接诊", en: "Admit" },
  "queue.waited_s": { zh: "已等 {s} 秒", en: "waiting {s} s" },
  "queue.waited_ms": { zh: "已等 {m} 分 {s} 秒", en: "waiting {m} min {s} s" },
  "queue.waited_hm": { zh: "已等 {h} 小时 {m} 分", en: "waiting {h} h {m} min" },
  "alert.heading": { zh: "需要您马上处理", en: "Needs your attention now" },
  "alert.open": { zh: "打开对话", en: "Open the conversation" },
  "alert.dismiss": { zh: "知道了", en: "Dismiss" },
  "alert.red_flag": { zh: "危急症状", en: "Red flag" },
  "alert.reading": { zh: "异常读数", en: "Dangerous reading" },
  "alert.sensitive_word": { zh: "敏感词", en: "Sensitive word" },
  "duty.heading": { zh: "值班状态", en: "Duty status" },
  "duty.auto": { zh: "按排班", en: "By schedule" },
  "duty.on_duty": { zh: "在岗", en: "On duty" },
  "duty.busy": { zh: "忙碌", en: "Busy" },
  "duty.off_duty": { zh: "下班", en: "Off duty" },
  "duty.now_on": {
    zh: "现在：在岗。居民的消息会直接找到您。",
    en: "Now: on duty. Residents' messages reach you.",
  },
  "duty.now_off": {
    zh: "现在：不在岗。居民会收到自动回复（急症请拨 120）。",
    en: "Now: not on duty. Residents get an automatic reply (emergencies: dial 120).",
  },
  "duty.next": { zh: "下次上班：{when}", en: "Back on duty: {when}" },
  "broadcast.heading": { zh: "群发消息", en: "Broadcast" },
  "broadcast.intro": {
    zh: "按标签、疾病或年龄挑选本团队的签约居民，给每人发一条消息。",
    en: "Pick your team's signed residents by tag, condition or age and send each one message.",
  },
  "broadcast.tags": { zh: "标签（用逗号分开）", en: "Tags (separated by commas)" },
  "broadcast.condition": { zh: "疾病", en: "Condition" },
  "broadcast.age_min": { zh: "最小年龄", en: "Age from" },
  "broadcast.age_max": { zh: "最大年龄", en: "Age to" },
  "broadcast.text": { zh: "消息内容", en: "Message" },
  "broadcast.preview": { zh: "预览人数", en: "Preview" },
  "broadcast.send": { zh: "发送", en: "Send" },
  "broadcast.preview_count": { zh: "将发送给 {count} 位居民。", en: "This would reach {count} residents." },
  "broadcast.sent": { zh: "已发送给 {count} 位居民。", en: "Sent to {count} residents." },
  "broadcast.stats": { zh: "已送达 {delivered} 人，已读 {read} 人。", en: "Delivered to {delivered}, read by {read}." },
  "broadcast.refresh": { zh: "刷新", en: "Refresh" },
  "broadcast.need_text": { zh: "请先写好消息内容。", en: "Please write the message first." },

  // --- Invite link --------------------------------------------------------------------
  "join.title": { zh: "会诊邀请 · 家医", en: "Consult invite · Jiayi" },
  "join.heading": { zh: "会诊邀请", en: "Consult invite" },
  "join.joining": { zh: "正在加入会诊…", en: "Joining the consult…" },

  // --- Enum labels --------------------------------------------------------------------
  "role.doctor": { zh: "家庭医生", en: "Family doctor" },
  "role.nurse": { zh: "护士", en: "Nurse" },
  "role.specialist": { zh: "专科医生", en: "Specialist" },
  "role.compliance": { zh: "质控", en: "Compliance" },
  "role.admin": { zh: "管理员", en: "Administrator" },
  "role.resident": { zh: "居民", en: "Resident" },
  "role.proxy": { zh: "家属代理", en: "Family proxy" },

  "sex.male": { zh: "男", en: "Male" },
  "sex.female": { zh: "女", en: "Female" },

  "kind.advice": { zh: "咨询", en: "Advice" },
  "kind.follow_up": { zh: "复诊", en: "Follow-up visit" },
  "kind.referral": { zh: "会诊", en: "Referral consult" },

  "mode.video": { zh: "视频", en: "Video" },
  "mode.voice": { zh: "语音", en: "Voice" },
  "mode.text": { zh: "文字", en: "Text" },

  "consult_status.scheduled": { zh: "已预约", en: "Scheduled" },
  "consult_status.waiting": { zh: "候诊中", en: "Waiting" },
  "consult_status.in_progress": { zh: "进行中", en: "In progress" },
  "consult_status.ended": { zh: "已结束", en: "Ended" },
  "consult_status.cancelled": { zh: "已取消", en: "Cancelled" },
  "consult_status.no_show": { zh: "未到", en: "No-show" },

  "contract_status.active": { zh: "已签约", en: "Signed" },
  "contract_status.due_for_renewal": { zh: "待续约", en: "Due for renewal" },
  "contract_status.expired": { zh: "已过期", en: "Expired" },
  "contract_status.pending": { zh: "待签约", en: "Pending" },
  "contract_status.cancelled": { zh: "已解约", en: "Cancelled" },
  "contract_status.refused": { zh: "拒签", en: "Refused" },
  "contract_status.unable_to_sign": { zh: "无法签约", en: "Unable to sign" },
  "contract_status.none": { zh: "未签约", en: "Not signed" },

  "package.basic": { zh: "基础包", en: "Basic package" },
  "package.personalised": { zh: "个性化包", en: "Personalised package" },

  "task_status.due": { zh: "待随访", en: "Due" },
  "task_status.done": { zh: "已完成", en: "Done" },
  "task_status.cancelled": { zh: "已取消", en: "Cancelled" },

  // How the proxy is related to the resident (the proxy is the resident's <relation>).
  "relation.child": { zh: "子女", en: "child" },
  "relation.spouse": { zh: "配偶", en: "spouse" },
  "relation.parent": { zh: "父母", en: "parent" },
  "relation.sibling": { zh: "兄弟姐妹", en: "sibling" },
  "relation.guardian": { zh: "监护人", en: "guardian" },
  "relation.other": { zh: "亲属", en: "relative" },

  "scope.consult": { zh: "问诊", en: "consults" },
  "scope.consent": { zh: "知情同意", en: "consent" },
  "scope.message": { zh: "消息", en: "messages" },
  "scope.view_records": { zh: "查看档案", en: "view records" },
};

const LANGS = ["zh", "en"];

function storedLang() {
  try {
    const value = localStorage.getItem(LANG_KEY);
    return LANGS.includes(value) ? value : "zh";
  } catch {
    // Storage can be disabled (private mode, strict settings): fall back to Chinese.
    return "zh";
  }
}

let current = storedLang();
const listeners = new Set();

/** The language in use: "zh" or "en". */
export function getLang() {
  return current;
}

/** Switch language, remember it, and tell every listener to redraw. */
export function setLang(lang) {
  if (!LANGS.includes(lang) || lang === current) return;
  current = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Not remembered, but the switch still works for this page.
  }
  for (const listener of listeners) listener(lang);
}

/** Call `listener(lang)` after each language switch. */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/**
 * Add a page's own words to the dictionary (e.g. the review pages'), so `t` and `label` serve
 * them like any other; a key the dictionary already has is kept and the clash reported.
 */
export function extend(strings) {
  for (const [key, entry] of Object.entries(strings)) {
    if (Object.hasOwn(STRINGS, key)) console.warn(`i18n: ${key} is already defined`);
    else STRINGS[key] = entry;
  }
}

/** True when the dictionary has `key`. */
export function hasKey(key) {
  return Object.hasOwn(STRINGS, key);
}

/** The text for `key` in the current language, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const entry = STRINGS[key];
  if (!entry) {
    console.warn(`i18n: no text for ${key}`);
    return key;
  }
  const text = entry[current] ?? entry.zh;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/**
 * The label of an enum value (`label("kind", "follow_up")` → 复诊). A value the dictionary
 * does not know is shown as it is rather than hidden: a new server status stays visible.
 */
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${group}.${value}`;
  return hasKey(key) ? t(key) : String(value);
}
