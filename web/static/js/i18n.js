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
