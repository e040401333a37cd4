/*
 * Företagslotsen chat widget.
 *
 * Embedded with one script tag:
 *   <script src="https://kommun.example/static/widget/foretagslotsen.js"
 *           data-socket-url="https://chatt.kommun.example" defer></script>
 *
 * Attributes (all optional except data-socket-url):
 *   data-socket-url   Rasa server with the socket.io channel
 *   data-socket-path  socket.io path on that server (default /socket.io)
 *   data-privacy-url  privacy page (default /integritet next to the script)
 *   data-api-url      web app API for deleting a conversation (default /widget/api next to the script)
 *
 * Rules kept here: every text from the bot or the user goes into the page with textContent or
 * text nodes, never as HTML; links are <a> elements built with DOM APIs, http(s) and mailto only.
 */
import { io } from "socket.io-client";

const PREFIX = "foretagslotsen";
const SESSION_KEY = `${PREFIX}.session`;
const TRANSCRIPT_KEY = `${PREFIX}.transcript`;
const OPEN_KEY = `${PREFIX}.open`;
// Rasa starts a new dialogue session after 60 idle minutes (domain.yml): the browser copy follows.
const IDLE_MS = 60 * 60 * 1000;
const REPLY_TIMEOUT_MS = 20000;
const MAX_ENTRIES = 300;
const MAX_LENGTH = 1000;
// Session ids are issued and signed by the Rasa server (bot/sender_ids.py): "<uuid>.<signature>".
const SESSION_ID = /^[0-9a-f]{32}\.[0-9a-f]{32}$/;

const TEXT = {
  launcher: "Chatta med Företagslotsen",
  title: "Företagslotsen",
  subtitle: "Chattbot för företagare",
  close: "Stäng chatten",
  end: "Avsluta och radera",
  inputLabel: "Skriv din fråga",
  send: "Skicka",
  you: "Du skrev:",
  bot: "Företagslotsen skrev:",
  typing: "Företagslotsen skriver …",
  log: "Samtal med Företagslotsen",
  replies: "Svarsalternativ",
  newTab: "(öppnas i ny flik)",
  intro:
    "Hej! Jag är en chattbot, inte en människa. Fråga om tillstånd, mark för verksamhet, " +
    "rekrytering och kompetens eller om att starta företag.",
  notice:
    "Det du skriver sparas hos kommunen för att vi ska kunna svara dig och göra chatten bättre, " +
    "och i din webbläsare så att samtalet finns kvar om du laddar om sidan. Kopian i webbläsaren " +
    "används i högst en timme efter ditt senaste meddelande. Hos kommunen sparas samtalet tills " +
    "du väljer Avsluta och radera. Skriv inte personnummer eller andra känsliga uppgifter.",
  privacyLink: "Så hanterar vi dina uppgifter",
  confirmEnd: "Vill du avsluta samtalet och radera det, både hos kommunen och i din webbläsare?",
  confirmYes: "Ja, avsluta och radera",
  confirmNo: "Avbryt",
  ended: "Samtalet är avslutat och raderat. Du kan börja ett nytt samtal.",
  endedLocalOnly:
    "Samtalet är avslutat och borttaget från din webbläsare, men vi kunde inte radera det hos " +
    "kommunen just nu. Kontakta kommunen om du vill att vi tar bort det.",
  offline: "Ingen anslutning till chatten. Jag försöker igen …",
  slow: "Svaret dröjer. Försök igen om en stund, eller ring kommunen.",
  tooLong: `Skriv högst ${MAX_LENGTH} tecken.`,
};

// ---------------------------------------------------------------- storage (never throws)

function load(storage, key) {
  try {
    const raw = storage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function save(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode or full: the conversation still works, it is just not kept */
  }
}

function remove(storage, key) {
  try {
    storage.removeItem(key);
  } catch {
    /* ignore */
  }
}

// ---------------------------------------------------------------- DOM helpers

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

const LINK = /\bhttps?:\/\/[^\s<>"]+|\bwww\.[^\s<>"]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+/gi;
const TRAILING = /[.,;:!?)\]»”'"]+$/;

/** Append text to a node, turning URLs and e-mail addresses into safe links. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let found = match[0];
    const trailing = found.match(TRAILING);
    if (trailing) found = found.slice(0, -trailing[0].length);
    const start = match.index;
    const href = toHref(found);
    if (!href) continue;
    if (start > last) parent.append(document.createTextNode(text.slice(last, start)));
    const link = el("a", { href, className: "fl-link" });
    link.append(document.createTextNode(found));
    if (!href.startsWith("mailto:")) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.append(el("span", { className: "fl-sr", text: ` ${TEXT.newTab}` }));
    }
    parent.append(link);
    last = start + found.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

function toHref(found) {
  if (found.includes("@") && !/^https?:|^www\./i.test(found)) {
    return /^[\w.+-]+@[\w-]+(\.[\w-]+)+$/.test(found) ? `mailto:${found}` : null;
  }
  try {
    const url = new URL(/^www\./i.test(found) ? `https://${found}` : found);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the widget

class Widget {
  constructor(config) {
    this.config = config;
    this.socket = null;
    this.confirmed = false;
    this.queue = [];
    this.replyTimer = null;
    this.session = this.restoreSession();
    this.entries = this.session ? load(localStorage, TRANSCRIPT_KEY) || [] : [];
    this.build();
    this.renderAll();
    if (load(sessionStorage, OPEN_KEY)) this.open({ focus: false });
  }

  restoreSession() {
    const stored = load(localStorage, SESSION_KEY);
    if (
      stored &&
      typeof stored.id === "string" &&
      SESSION_ID.test(stored.id) &&
      Date.now() - (stored.updated || 0) < IDLE_MS
    ) {
      return stored;
    }
    remove(localStorage, SESSION_KEY);
    remove(localStorage, TRANSCRIPT_KEY);
    return null;
  }

  ensureSession() {
    // The id comes from the server (session_confirm); until then it is null.
    if (!this.session) this.session = { id: null, updated: Date.now() };
    return this.session;
  }

  persist() {
    if (!this.session) return;
    this.session.updated = Date.now();
    save(localStorage, SESSION_KEY, this.session);
    save(localStorage, TRANSCRIPT_KEY, this.entries.slice(-MAX_ENTRIES));
  }

  build() {
    const uid = `${PREFIX}-${Math.random().toString(36).slice(2, 8)}`;
    this.ids = {
      panel: `${uid}-panel`,
      title: `${uid}-title`,
      notice: `${uid}-notice`,
      input: `${uid}-input`,
      confirm: `${uid}-confirm`,
    };

    this.launcher = el("button", {
      type: "button",
      className: "fl-launcher",
      "aria-expanded": "false",
      "aria-controls": this.ids.panel,
    });
    this.launcher.append(chatIcon(), el("span", { text: TEXT.launcher }));
    this.launcher.addEventListener("click", () => this.open({ focus: true }));

    this.endButton = el("button", { type: "button", className: "fl-end", text: TEXT.end });
    this.endButton.addEventListener("click", () => this.askEnd());
    this.closeButton = el("button", {
      type: "button",
      className: "fl-close",
      "aria-label": TEXT.close,
    });
    this.closeButton.append(closeIcon());
    this.closeButton.addEventListener("click", () => this.close());

    const header = el("div", { className: "fl-header" }, [
      el("div", { className: "fl-heading" }, [
        el("h2", { id: this.ids.title, className: "fl-title", text: TEXT.title }),
        el("p", { className: "fl-subtitle", text: TEXT.subtitle }),
      ]),
      el("div", { className: "fl-header-actions" }, [this.endButton, this.closeButton]),
    ]);

    const privacy = el("a", { href: this.config.privacyUrl, className: "fl-link" });
    privacy.textContent = TEXT.privacyLink;
    this.notice = el("div", { id: this.ids.notice, className: "fl-notice" }, [
      el("p", { text: TEXT.intro }),
      el("p", { className: "fl-small", text: TEXT.notice }),
      el("p", { className: "fl-small" }, [privacy]),
    ]);

    this.log = el("div", {
      className: "fl-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": TEXT.log,
    });
    this.typing = el("div", { className: "fl-typing", hidden: true }, [
      el("span", { className: "fl-sr", text: TEXT.typing }),
      el("span", { className: "fl-dots", "aria-hidden": "true" }, [
        el("span"),
        el("span"),
        el("span"),
      ]),
    ]);
    this.typingStatus = el("div", { className: "fl-sr", role: "status" });
    this.body = el("div", { className: "fl-body" }, [this.notice, this.log, this.typing]);

    this.confirmYes = el("button", { type: "button", className: "fl-danger", text: TEXT.confirmYes });
    this.confirmNo = el("button", { type: "button", className: "fl-secondary", text: TEXT.confirmNo });
    this.confirmYes.addEventListener("click", () => this.endConversation());
    this.confirmNo.addEventListener("click", () => this.cancelEnd());
    this.confirm = el(
      "div",
      { className: "fl-confirm", role: "group", "aria-labelledby": this.ids.confirm, hidden: true },
      [
        el("p", { id: this.ids.confirm, text: TEXT.confirmEnd }),
        el("div", { className: "fl-confirm-actions" }, [this.confirmYes, this.confirmNo]),
      ],
    );

    this.status = el("p", { className: "fl-status", role: "status" });
    this.input = el("input", {
      id: this.ids.input,
      className: "fl-input",
      type: "text",
      autocomplete: "off",
      maxlength: String(MAX_LENGTH),
      enterkeyhint: "send",
    });
    this.sendButton = el("button", { type: "submit", className: "fl-send", text: TEXT.send });
    this.form = el("form", { className: "fl-form" }, [
      el("label", { for: this.ids.input, className: "fl-label", text: TEXT.inputLabel }),
      el("div", { className: "fl-row" }, [this.input, this.sendButton]),
    ]);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });

    this.panel = el(
      "div",
      {
        id: this.ids.panel,
        className: "fl-panel",
        role: "dialog",
        "aria-labelledby": this.ids.title,
        "aria-describedby": this.ids.notice,
        hidden: true,
      },
      [header, this.body, this.confirm, this.status, this.typingStatus, this.form],
    );
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        if (!this.confirm.hidden) this.cancelEnd();
        else this.close();
      }
    });

    this.root = el("div", { className: "fl-root", "data-foretagslotsen": "" }, [
      this.launcher,
      this.panel,
    ]);
    document.body.append(this.root);
    // Rotating a phone or zooming keeps the newest message in view.
    window.addEventListener("resize", () => {
      if (!this.panel.hidden) this.scrollToEnd();
    });
  }

  // ------------------------------------------------------------ open / close

  open({ focus }) {
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    this.root.classList.add("fl-open");
    save(sessionStorage, OPEN_KEY, true);
    this.scrollToEnd();
    this.connect();
    if (focus) this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.root.classList.remove("fl-open");
    remove(sessionStorage, OPEN_KEY);
    this.launcher.focus();
  }

  // ------------------------------------------------------------ socket.io

  connect() {
    if (this.socket) return;
    const socket = io(this.config.socketUrl, {
      path: this.config.socketPath,
      transports: ["websocket", "polling"],
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.confirmed = false;
      this.setStatus("");
      // The server resumes a session id it signed, or issues a new one, and puts this socket
      // in its room; replies are sent to that room.
      const { id } = this.ensureSession();
      socket.emit("session_request", id ? { session_id: id } : {});
    });
    socket.on("session_confirm", (id) => {
      if (typeof id !== "string" || !SESSION_ID.test(id)) return;
      const session = this.ensureSession();
      session.id = id;
      if (this.entries.length) save(localStorage, SESSION_KEY, session);
      this.confirmed = true;
      const pending = this.queue.splice(0);
      for (const message of pending) this.emitMessage(message);
    });
    socket.on("bot_uttered", (data) => this.receive(data));
    socket.on("connect_error", () => this.setStatus(TEXT.offline));
    socket.on("disconnect", (reason) => {
      this.confirmed = false;
      if (reason !== "io client disconnect") this.setStatus(TEXT.offline);
    });
  }

  emitMessage(message) {
    this.socket.emit("user_uttered", { message, session_id: this.session.id });
  }

  // ------------------------------------------------------------ messages

  submit() {
    const text = this.input.value.trim();
    if (!text) {
      this.input.focus();
      return;
    }
    if (text.length > MAX_LENGTH) {
      this.setStatus(TEXT.tooLong);
      return;
    }
    this.input.value = "";
    this.send(text, text);
  }

  send(message, shown) {
    this.ensureSession();
    this.removeReplies();
    this.add({ from: "user", text: shown });
    this.showTyping(true);
    this.connect();
    if (this.confirmed && this.socket.connected) this.emitMessage(message);
    else this.queue.push(message);
    this.input.focus();
  }

  receive(data) {
    if (!data || typeof data !== "object") return;
    this.showTyping(false);
    this.setStatus("");
    const text = typeof data.text === "string" ? data.text : "";
    const buttons = Array.isArray(data.quick_replies)
      ? data.quick_replies
          .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
          .map((b) => ({ title: b.title, payload: b.payload }))
      : [];
    if (!text && buttons.length === 0) return;
    this.add({ from: "bot", text, buttons });
  }

  add(entry) {
    this.entries.push(entry);
    this.persist();
    this.log.append(this.render(entry, true));
    this.scrollToEnd();
  }

  render(entry, interactive) {
    const mine = entry.from === "user";
    const message = el("div", { className: `fl-msg ${mine ? "fl-msg--user" : "fl-msg--bot"}` });
    message.append(el("span", { className: "fl-sr", text: `${mine ? TEXT.you : TEXT.bot} ` }));
    if (entry.text) {
      const bubble = el("p", { className: "fl-bubble" });
      if (mine) bubble.textContent = entry.text;
      else appendLinkified(bubble, entry.text);
      message.append(bubble);
    }
    if (interactive && entry.buttons && entry.buttons.length) {
      const group = el("div", { className: "fl-replies", role: "group", "aria-label": TEXT.replies });
      for (const button of entry.buttons) {
        const node = el("button", { type: "button", className: "fl-reply", text: button.title });
        node.addEventListener("click", () => this.send(button.payload, button.title));
        group.append(node);
      }
      message.append(group);
    }
    return message;
  }

  renderAll() {
    this.log.replaceChildren();
    // Quick replies are offered only after the last thing the user said.
    let lastUser = -1;
    this.entries.forEach((entry, index) => {
      if (entry.from === "user") lastUser = index;
    });
    this.entries.forEach((entry, index) => {
      this.log.append(this.render(entry, index > lastUser));
    });
  }

  removeReplies() {
    for (const group of this.log.querySelectorAll(".fl-replies")) group.remove();
  }

  showTyping(on) {
    clearTimeout(this.replyTimer);
    this.typing.hidden = !on;
    this.typingStatus.textContent = on ? TEXT.typing : "";
    if (on) {
      this.scrollToEnd();
      this.replyTimer = setTimeout(() => {
        this.typing.hidden = true;
        this.typingStatus.textContent = "";
        this.setStatus(TEXT.slow);
      }, REPLY_TIMEOUT_MS);
    }
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  scrollToEnd() {
    this.body.scrollTop = this.body.scrollHeight;
  }

  // ------------------------------------------------------------ end and delete

  askEnd() {
    this.confirm.hidden = false;
    this.confirmNo.focus();
  }

  cancelEnd() {
    this.confirm.hidden = true;
    this.endButton.focus();
  }

  async endConversation() {
    this.confirmYes.disabled = true;
    const session = this.session;
    let deleted = true;
    if (session && session.id) {
      await this.restartOnServer(session.id);
      deleted = await this.deleteOnServer(session.id);
    }
    if (this.socket) {
      this.socket.disconnect();
      this.socket = null;
    }
    this.confirmed = false;
    this.queue = [];
    this.session = null;
    this.entries = [];
    remove(localStorage, SESSION_KEY);
    remove(localStorage, TRANSCRIPT_KEY);
    this.showTyping(false);
    this.renderAll();
    this.confirm.hidden = true;
    this.confirmYes.disabled = false;
    this.setStatus(deleted ? TEXT.ended : TEXT.endedLocalOnly);
    this.input.focus();
  }

  restartOnServer(sessionId) {
    // /restart resets the dialogue; the acknowledgement arrives when Rasa has stored the event,
    // so the deletion that follows removes it too.
    return new Promise((resolve) => {
      if (!this.socket || !this.socket.connected || !this.confirmed) {
        resolve();
        return;
      }
      this.socket
        .timeout(5000)
        .emit("user_uttered", { message: "/restart", session_id: sessionId }, () => resolve());
    });
  }

  async deleteOnServer(sessionId) {
    try {
      const response = await fetch(`${this.config.apiUrl}/conversation/delete`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: sessionId }),
      });
      return response.ok;
    } catch {
      return false;
    }
  }
}

function chatIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "fl-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute(
    "d",
    "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  );
  svg.append(path);
  return svg;
}

function closeIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "fl-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M6 6l12 12M18 6L6 18");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2.5");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("fill", "none");
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------- start

function configFromScript(script) {
  const base = script && script.src ? script.src : location.href;
  const data = (script && script.dataset) || {};
  return {
    socketUrl: data.socketUrl || new URL("/", base).origin,
    socketPath: data.socketPath || "/socket.io",
    privacyUrl: data.privacyUrl || new URL("/integritet", base).href,
    apiUrl: (data.apiUrl || new URL("/widget/api", base).href).replace(/\/$/, ""),
    cssUrl: new URL("foretagslotsen.css", base).href,
  };
}

const currentScript = document.currentScript;

function start() {
  const config = configFromScript(currentScript);
  if (!document.querySelector(`link[data-${PREFIX}]`)) {
    const link = el("link", { rel: "stylesheet", href: config.cssUrl, [`data-${PREFIX}`]: "" });
    document.head.append(link);
  }
  window.Foretagslotsen = new Widget(config);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
