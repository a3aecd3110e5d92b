/**
 * One conversation on screen: the message list and the composer. The resident's chat, the
 * doctor's inbox panel and the consult room all use it.
 *
 * Messages come from `sync_messages` (on every (re)connect, from the highest id seen) and
 * from live `message` events; both are merged by id, so nothing shows twice. A message being
 * sent shows at once with "sending…", carries one client_msg_id through every retry, and is
 * replaced by the stored message when the ack (or its own `message` event) arrives.
 */

import { ApiError, api, errorMessage, fill, formatDate, formatDateTime, formatTime, h } from "./app.js";
import { label, onLanguageChange, t } from "./i18n.js";
import { liveErrorMessage, newClientMsgId, request, requestWithRetry } from "./live.js";

/** Roles writing for the resident's side; the others are the care team's side. */
const RESIDENT_SIDE = new Set(["resident", "proxy"]);
/** Card types a practitioner can send, and whether each needs a link or a date. */
const CARD_TYPES = ["report_link", "booking_link", "article", "followup_reminder"];
/** Close enough to the bottom of the list to follow new messages there. */
const NEAR_BOTTOM_PX = 80;

/** Every open view, redrawn when the language changes. */
const views = new Set();
onLanguageChange(() => { for (const view of views) view.redraw(); });

/** Attachment id → promise of a blob: URL, shared by every view of the page. */
const blobUrls = new Map();

/** Read an attachment with the bearer token (an <img src> cannot send it) into a blob: URL. */
function attachmentUrl(attachment) {
  if (!blobUrls.has(attachment.id)) {
    const load = api(attachment.url, { raw: true })
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob));
    load.catch(() => blobUrls.delete(attachment.id)); // let a later redraw try again
    blobUrls.set(attachment.id, load);
  }
  return blobUrls.get(attachment.id);
}

/** The file name the server gives in Content-Disposition, or a plain default. */
function fileName(response) {
  const header = response.headers.get("Content-Disposition") ?? "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(header);
  try {
    return match ? decodeURIComponent(match[1]) : "file";
  } catch {
    return "file";
  }
}

async function download(attachment, button) {
  button.disabled = true;
  try {
    const response = await api(attachment.url, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: fileName(response), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    button.after(h("span", { class: "danger-text" }, errorMessage(err)));
  } finally {
    button.disabled = false;
  }
}

/** HH:MM for today's messages (on the service clock), the date too for older ones. */
export function messageTime(value) {
  if (!value) return "";
  return formatDate(value) === formatDate(new Date().toISOString())
    ? formatTime(value)
    : formatDateTime(value);
}

/** A link only to this site or to https: pages (never javascript: or the like). */
function safeHref(url) {
  if (!url) return null;
  if (/^https:\/\//i.test(url)) return url;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return null;
}

function cardNode(card) {
  const body = [
    h("span", { class: "msg-card-type" }, label("card", card.type)),
    h("span", { class: "msg-card-title" }, card.title),
    card.summary ? h("span", { class: "msg-card-summary" }, card.summary) : null,
    card.due_date
      ? h("span", { class: "msg-card-due" }, t("card.due", { date: formatDate(card.due_date) }))
      : null,
  ];
  const href = safeHref(card.url);
  if (!href) return h("div", { class: "msg-card", testid: "card" }, body);
  const outside = !href.startsWith("/");
  return h("a", { class: "msg-card msg-card-link", testid: "card", href,
                  target: outside ? "_blank" : null, rel: outside ? "noopener noreferrer" : null },
    body);
}

function imageNode(attachment, localUrl = null) {
  const img = h("img", { class: "msg-image", testid: "message-image", alt: t("chat.image_alt") });
  if (localUrl) img.src = localUrl;
  else {
    attachmentUrl(attachment).then(
      (url) => { img.src = url; },
      () => img.replaceWith(h("span", { class: "danger-text" }, t("chat.image_failed"))),
    );
  }
  return img;
}

/** What the bubble of a message holds. */
function content(message) {
  switch (message.kind) {
    case "image":
      return message.attachment ? imageNode(message.attachment) : null;
    case "file": {
      const button = h("button", { type: "button", class: "btn btn-secondary", testid: "download" },
        t("chat.download"));
      button.addEventListener("click", () => download(message.attachment, button));
      return button;
    }
    case "card":
      return message.card ? cardNode(message.card) : null;
    default:
      return message.text ? h("p", { class: "msg-text" }, message.text) : null;
  }
}

/** "[图片]", "[文件]", the card's title, or the text: one line for the inbox. */
export function preview(message) {
  if (!message) return "";
  switch (message.kind) {
    case "image": return t("chat.preview_image");
    case "file": return t("chat.preview_file");
    case "card": return `[${label("card", message.card?.type)}] ${message.card?.title ?? ""}`;
    case "auto_reply": return `${t("chat.auto_reply")}: ${message.text}`;
    default: return message.text;
  }
}

/**
 * The view of `conversation` for the user `me`, over the `chat` socket. Options:
 * `cards` shows the practitioners' card composer; `compact` gives a shorter list (a panel).
 * `onRead()` is called after the reader's read mark moved (the inbox clears its badge).
 *
 * Returns {node, sync(), close(), redraw()}: call `sync()` after every (re)connect once the
 * conversation has been opened again.
 */
export function conversationView({ chat, me, conversation, cards = false, compact = false,
                                   onRead = null }) {
  const mySide = RESIDENT_SIDE.has(me.role) ? "resident" : "team";
  /** id → Message, as stored by the server. */
  const messages = new Map();
  /** client_msg_id → {payload, status: sending|uploading|failed, error, file, localUrl}. */
  const pending = new Map();
  /** user id → the highest message id they read. */
  const readMarks = new Map();
  /** user id → "resident" | "team", learnt from who wrote what. */
  const sideOf = new Map();
  let myLastRead = 0;
  let closed = false;

  // Not a live region itself (it is redrawn whole): new messages from others are announced
  // one by one through `announcer`.
  const list = h("ol", { class: compact ? "msg-list msg-list-compact" : "msg-list",
                         testid: "messages", "aria-label": t("chat.messages") });
  const announcer = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const composer = composerNode();
  const node = h("div", { class: "conversation", testid: "conversation",
                          "data-conversation-id": conversation.id },
    list, announcer, composer.node);

  const maxId = () => Math.max(0, ...messages.keys());

  function otherSide(userId) {
    if (userId === me.id) return false;
    const side = sideOf.get(userId);
    // Someone who has not written yet: most likely the other side (the team, for a resident).
    return side === undefined || side !== mySide;
  }

  function readByOtherSide(messageId) {
    for (const [userId, mark] of readMarks) {
      if (mark >= messageId && otherSide(userId)) return true;
    }
    return false;
  }

  function add(message) {
    if (message.conversation_id !== conversation.id) return false;
    messages.set(message.id, message);
    if (message.sender?.user_id) {
      sideOf.set(message.sender.user_id, RESIDENT_SIDE.has(message.sender.role) ? "resident" : "team");
    }
    if (message.client_msg_id && message.sender?.user_id === me.id) pending.delete(message.client_msg_id);
    return true;
  }

  function senderLine(message) {
    const mine = message.sender?.user_id === me.id;
    const name = message.sender?.name ?? "";
    const who = message.on_behalf_of_resident_id
      ? t("chat.on_behalf", { name: mine ? t("chat.me") : name,
                              resident: conversation.resident_name || "" })
      : (mine ? null : name);
    return h("span", { class: "msg-meta" }, [who, messageTime(message.created_at)]
      .filter(Boolean).join(" · "));
  }

  function messageNode(message) {
    if (message.kind === "auto_reply" || message.kind === "system") {
      return h("li", { class: `msg msg-notice msg-${message.kind}`, testid: "message",
                       "data-kind": message.kind, "data-id": message.id },
        h("span", { class: "msg-meta" },
          [message.kind === "auto_reply" ? t("chat.auto_reply") : t("chat.system"),
           messageTime(message.created_at)].join(" · ")),
        h("p", { class: "msg-text" }, message.text));
    }
    const mine = message.sender?.user_id === me.id;
    const read = mine && readByOtherSide(message.id);
    return h("li", { class: mine ? "msg msg-own" : "msg msg-other", testid: "message",
                     "data-kind": message.kind, "data-id": message.id,
                     "data-own": String(mine) },
      senderLine(message),
      h("div", { class: "msg-bubble" }, content(message)),
      mine
        ? h("span", { class: read ? "msg-receipt msg-read" : "msg-receipt", testid: "receipt" },
            t(read ? "chat.read" : "chat.sent"))
        : null);
  }

  function pendingNode([clientMsgId, item]) {
    const { payload } = item;
    const bubble = payload.kind === "image" || item.file
      ? imageNode(null, item.localUrl)
      : payload.kind === "card" ? cardNode(payload.card) : h("p", { class: "msg-text" }, payload.text);
    const failed = item.status === "failed";
    return h("li", { class: "msg msg-own msg-pending", testid: "message-pending",
                     "data-status": item.status },
      h("div", { class: "msg-bubble" }, bubble),
      h("span", { class: failed ? "msg-receipt danger-text" : "msg-receipt" },
        failed ? [item.error, " "] : t(item.status === "uploading" ? "chat.uploading" : "chat.sending"),
        failed
          ? h("button", { type: "button", class: "btn btn-secondary btn-small", testid: "retry",
                          onclick: () => deliver(clientMsgId) }, t("chat.retry"))
          : null));
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  /** Draw the messages; with `follow` (or when the reader was at the bottom) stay at the bottom. */
  function drawList({ follow = false } = {}) {
    if (closed) return;
    const stay = follow || nearBottom();
    const stored = [...messages.values()].sort((a, b) => a.id - b.id);
    fill(list,
      stored.length || pending.size ? null
        : h("li", { class: "msg-empty muted", testid: "messages-empty" },
            t(mySide === "resident" ? "chat.empty" : "chat.empty_team")),
      stored.map(messageNode),
      [...pending.entries()].map(pendingNode));
    list.setAttribute("aria-label", t("chat.messages"));
    if (stay) {
      scrollDown();
      // Images grow the list as they load: keep following the bottom.
      for (const img of list.querySelectorAll("img")) img.addEventListener("load", scrollDown, { once: true });
    }
  }

  /** Move the reader's read mark to the newest message, when the page is being looked at. */
  async function markRead() {
    const upTo = maxId();
    if (closed || !upTo || upTo <= myLastRead || document.visibilityState !== "visible") return;
    if (!chat.connected) return;
    myLastRead = upTo;
    try {
      await request(chat, "mark_read", { conversation_id: conversation.id, up_to_id: upTo });
      onRead?.();
    } catch {
      myLastRead = 0; // the next message or sync tries again
    }
  }

  /** Fetch what this client missed, from the highest id it has; also read marks. */
  async function sync() {
    let more = true;
    while (more && !closed) {
      const ack = await request(chat, "sync_messages",
        { conversation_id: conversation.id, after_id: maxId() });
      for (const message of ack.messages) add(message);
      for (const [userId, mark] of Object.entries(ack.read_marks ?? {})) {
        readMarks.set(Number(userId), mark);
        if (Number(userId) === me.id) myLastRead = Math.max(myLastRead, mark);
      }
      more = ack.has_more && ack.messages.length > 0;
    }
    drawList({ follow: true });
    markRead();
  }

  /** Send (or send again, after a failure) the pending message `clientMsgId`. */
  async function deliver(clientMsgId) {
    const item = pending.get(clientMsgId);
    if (!item) return;
    try {
      if (item.file && !item.payload.attachment_id) {
        item.status = "uploading";
        drawList({ follow: true });
        const form = new FormData();
        form.append("file", item.file, item.file.name || "photo.jpg");
        const uploaded = await api(`/api/conversations/${conversation.id}/attachments`,
          { method: "POST", body: form });
        item.payload.attachment_id = uploaded.id;
      }
      item.status = "sending";
      drawList({ follow: true });
      const ack = await requestWithRetry(chat, "send_message", item.payload);
      add(ack.message);
      if (item.localUrl) URL.revokeObjectURL(item.localUrl);
      pending.delete(clientMsgId);
    } catch (err) {
      item.status = "failed";
      item.error = err instanceof ApiError ? errorMessage(err) : liveErrorMessage(err);
    }
    drawList({ follow: true });
  }

  function send(fields, file = null) {
    const clientMsgId = newClientMsgId();
    pending.set(clientMsgId, {
      payload: { conversation_id: conversation.id, client_msg_id: clientMsgId, ...fields },
      status: "sending",
      file,
      localUrl: file ? URL.createObjectURL(file) : null,
    });
    deliver(clientMsgId);
  }

  function composerNode() {
    const text = h("textarea", { class: "composer-text", rows: 2, maxlength: 2000,
                                 testid: "message-input", enterkeyhint: "send" });
    const camera = h("input", { type: "file", accept: "image/*", capture: "environment",
                                class: "visually-hidden", testid: "image-input", tabindex: -1 });
    const imageButton = h("button", { type: "button", class: "btn btn-secondary btn-big",
                                      testid: "image-button" });
    const sendButton = h("button", { type: "submit", class: "btn btn-primary btn-big",
                                     testid: "send" });
    const form = h("form", { class: "composer", testid: "composer" },
      text, h("div", { class: "composer-actions" }, imageButton, sendButton), camera);

    const submit = () => {
      const value = text.value.trim();
      if (!value) {
        text.focus();
        return;
      }
      send({ kind: "text", text: value });
      text.value = "";
      text.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    text.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter starts a new line; never while an input method is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    imageButton.addEventListener("click", () => camera.click());
    camera.addEventListener("change", () => {
      const [file] = camera.files;
      camera.value = "";
      if (file) send({ kind: "image", text: "" }, file);
    });

    const cardForm = cards ? cardComposer() : null;
    const wrapper = h("div", { class: "composer-wrap" }, form, cardForm?.node);
    return {
      node: wrapper,
      redraw() {
        text.setAttribute("aria-label", t("chat.input_label"));
        text.placeholder = t("chat.input_placeholder");
        imageButton.textContent = t("chat.image_button");
        sendButton.textContent = t("chat.send");
        cardForm?.redraw();
      },
    };
  }

  /** The practitioners' card form: a report link, a booking link, an article, or a reminder. */
  function cardComposer() {
    const type = h("select", { testid: "card-type", id: `card-type-${conversation.id}` });
    const title = h("input", { testid: "card-title", id: `card-title-${conversation.id}`,
                               maxlength: 100 });
    // Not type=url: a link on this site ("/reports/12") is welcome and the browser would refuse it.
    const url = h("input", { testid: "card-url", id: `card-url-${conversation.id}`, maxlength: 500,
                             inputmode: "url", autocapitalize: "none", spellcheck: "false" });
    const due = h("input", { testid: "card-due", id: `card-due-${conversation.id}`, type: "date" });
    const note = h("p", { class: "danger-text", role: "alert", hidden: true });
    const labels = {
      type: h("label", { for: type.id }), title: h("label", { for: title.id }),
      url: h("label", { for: url.id }), due: h("label", { for: due.id }),
    };
    const urlRow = h("div", {}, labels.url, url);
    const dueRow = h("div", {}, labels.due, due);
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-block",
                                 testid: "send-card" });
    const summary = h("summary", { class: "btn btn-secondary" });
    const form = h("form", { class: "form card-form", novalidate: true },
      labels.type, type, labels.title, title, urlRow, dueRow, note, submit);
    const node = h("details", { class: "card-composer", testid: "card-composer" }, summary, form);

    const showFields = () => {
      const reminder = type.value === "followup_reminder";
      urlRow.hidden = reminder;
      dueRow.hidden = !reminder;
    };
    type.addEventListener("change", showFields);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const reminder = type.value === "followup_reminder";
      const card = { type: type.value, title: title.value.trim() };
      if (reminder) card.due_date = due.value;
      else card.url = url.value.trim();
      const missing = !card.title ? "card.need_title"
        : reminder && !card.due_date ? "card.need_date"
          : !reminder && !safeHref(card.url) ? "card.need_url" : null;
      note.hidden = !missing;
      if (missing) {
        note.textContent = t(missing);
        return;
      }
      send({ kind: "card", card });
      title.value = "";
      url.value = "";
      due.value = "";
      node.open = false;
    });
    return {
      node,
      redraw() {
        summary.textContent = t("card.compose");
        labels.type.textContent = t("card.type");
        labels.title.textContent = t("card.title");
        labels.url.textContent = t("card.url");
        labels.due.textContent = t("card.due_date");
        url.placeholder = "https://";
        submit.textContent = t("card.send");
        const chosen = type.value || CARD_TYPES[0];
        fill(type, CARD_TYPES.map((value) => h("option", { value }, label("card", value))));
        type.value = chosen;
        showFields();
      },
    };
  }

  function onMessage(message) {
    const known = messages.has(message.id);
    if (!add(message)) return;
    if (!known && message.sender?.user_id !== me.id) {
      announcer.textContent = `${message.sender?.name ?? ""}: ${preview(message)}`;
    }
    drawList({ follow: message.sender?.user_id === me.id });
    if (document.visibilityState === "visible") {
      markRead();
    } else {
      // Not looked at yet, but it reached this device (a broadcast's "delivered" counts this).
      request(chat, "ack_delivered", { conversation_id: conversation.id, up_to_id: message.id })
        .catch(() => {});
    }
  }

  function onReadEvent(event) {
    if (event.conversation_id !== conversation.id) return;
    readMarks.set(event.user_id, Math.max(readMarks.get(event.user_id) ?? 0, event.up_to_id));
    drawList();
  }

  const onVisible = () => markRead();
  chat.on("message", onMessage);
  chat.on("read", onReadEvent);
  document.addEventListener("visibilitychange", onVisible);

  /** Everything again, in the language now chosen. */
  function redraw() {
    drawList();
    composer.redraw();
  }

  const view = {
    node,
    sync,
    redraw,
    /** Stop listening: the view is being replaced (another conversation was opened). */
    close() {
      closed = true;
      views.delete(view);
      chat.off("message", onMessage);
      chat.off("read", onReadEvent);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
  views.add(view);
  redraw();
  return view;
}
