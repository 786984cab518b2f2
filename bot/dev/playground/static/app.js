/* The playground page: a small Slack-like client for the stand-in, talking to /api/*. */
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const BK = window.BK;

  const S = {
    user: localStorage.getItem("playground.user") || "U0REP",
    channel: localStorage.getItem("playground.channel") || "C0SALES",
    tab: "messages", // for the app's DM: "home" | "messages"
    data: null,
    version: -1,
    thread: null, // ts of the open thread's parent
    forms: {}, // view id or "msg:<ts>" → {block_id: {action_id: state}}
    errors: {}, // view id → {block_id: message}
    modalKey: null,
    homeKey: null,
    poll: null,
  };

  // ---------------------------------------------------------------- talking to the server
  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ user: S.user }, body || {})),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      toast(answer.error || `HTTP ${response.status}`, "error");
      throw new Error(answer.error || response.status);
    }
    if (answer.warning) toast(answer.warning, "warning");
    if (answer.status && answer.status >= 400 && answer.status !== 404) toast(`The app answered HTTP ${answer.status}`, "error");
    return answer;
  }

  // One long poll at a time waits for news (refresh(true)); an explicit refresh (after the user did
  // something) cuts the long poll short, so that it starts again from the newest version, but is
  // never cut short itself.
  async function refresh(wait) {
    if (S.poll) S.poll.abort();
    const controller = wait ? new AbortController() : null;
    if (wait) S.poll = controller;
    const params = new URLSearchParams({ user: S.user, channel: S.channel, since: wait ? S.version : -1, wait: wait ? 20 : 0 });
    const response = await fetch("/api/state?" + params, controller ? { signal: controller.signal } : {});
    const body = await response.text();
    if (wait && S.poll === controller) S.poll = null;
    const data = JSON.parse(body);
    if (data.me !== S.user || (data.channel || null) !== S.channel) return; // the user switched meanwhile
    if (data.version < S.version) return; // an answer overtaken by a newer one
    S.version = data.version;
    // A long poll that brings nothing new but the time leaves the page (and what the user is doing,
    // such as an open menu) as it is and only sets the clock; an explicit refresh always redraws,
    // since local state (field errors, the tab) may have changed.
    const content = JSON.stringify(Object.assign({}, data, { version: null, now: null, last_tick: null }));
    const sameContent = content === S.lastContent;
    S.lastContent = content;
    S.data = data;
    if (wait && sameContent) renderTop();
    else render();
  }

  async function pollForever() {
    for (;;) {
      try {
        await refresh(true);
      } catch (err) {
        if (err.name !== "AbortError") await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  // ---------------------------------------------------------------- helpers
  function me() {
    return (S.data.users || []).find((u) => u.id === S.user) || { tz: "UTC", name: "?" };
  }
  function userById(id) {
    return (S.data.users || []).find((u) => u.id === id);
  }
  function currentChannel() {
    return (S.data.channels || []).find((c) => c.id === S.channel);
  }
  function toast(text, kind) {
    const node = document.createElement("div");
    node.className = "toast " + (kind || "");
    node.textContent = text;
    $("#toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 8000 : 5000);
  }
  // Times as the app writes them in its messages ("Wed 2 Dec, 17:07"): 24-hour, day before month.
  function formatTime(iso, withDay) {
    if (!iso) return "";
    const opts = { timeZone: me().tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withDay) Object.assign(opts, { weekday: "short", month: "short", day: "numeric" });
    return new Intl.DateTimeFormat("en-GB", opts).format(new Date(iso));
  }
  function bkContext(surface, key, extra) {
    S.forms[key] = S.forms[key] || {};
    return Object.assign(
      {
        surface,
        key,
        state: S.forms[key],
        errors: S.errors[key] || {},
        users: S.data.users,
        channels: (S.data.channels || []).filter((c) => c.kind !== "app"),
        tz: me().tz,
        now: S.data.now, // the playground's clock, for Slack's "today" / "tomorrow" in <!date^…>
        confirm: confirmDialog,
      },
      extra
    );
  }

  // ---------------------------------------------------------------- rendering
  function render() {
    renderTop();
    renderSidebar();
    renderMain();
    renderThread();
    renderModal();
    const errors = S.data.block_errors || [];
    $("#block-errors").hidden = !errors.length;
    $("#block-errors").textContent = errors.length ? "The app sent Block Kit that Slack would refuse: " + errors.join("; ") : "";
  }

  function renderTop() {
    const switcher = $("#user-switcher");
    const options = S.data.users.filter((u) => u.in_switcher);
    if (switcher.options.length !== options.length) {
      switcher.innerHTML = "";
      for (const u of options) {
        const label = `${u.real_name} · ${u.role}${u.is_admin ? " (workspace admin)" : ""}`;
        switcher.append(new Option(label, u.id));
      }
    }
    switcher.value = S.user;
    const now = new Date(S.data.now);
    $("#clock").textContent = formatTime(now.toISOString(), true);
    $("#clock-zone").textContent = me().tz;
    const ahead = S.data.offset_seconds;
    $("#clock-offset").textContent = ahead ? "⏩ " + describeOffset(ahead) + " ahead" : "real time";
    const tick = S.data.last_tick || {};
    $("#last-tick").dataset.at = tick.at || "";
    $("#last-tick").textContent = tick.at
      ? `last check ${formatTime(tick.at)} · ${plural(tick.nudges_total || 0, "nudge")} and ` +
        `${plural(tick.digests_total || 0, "digest")} sent so far`
      : "";
  }

  function plural(count, noun) {
    return `${count} ${noun}${count === 1 ? "" : "s"}`;
  }

  function describeOffset(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    return [d && d + "d", h && h + "h", m && m + "m"].filter(Boolean).join(" ") || seconds + "s";
  }

  function renderSidebar() {
    const seen = JSON.parse(localStorage.getItem("playground.seen." + S.user) || "{}");
    const list = $("#channels");
    const apps = $("#apps");
    list.innerHTML = "";
    apps.innerHTML = "";
    for (const c of S.data.channels) {
      const item = document.createElement("div");
      item.className = "sidebar-item" + (c.id === S.channel ? " active" : "");
      item.dataset.channel = c.id;
      const unread = c.latest && c.id !== S.channel && (!seen[c.id] || Number(c.latest) > Number(seen[c.id]));
      if (unread) item.classList.add("unread");
      const icon = c.kind === "app" ? "🤖" : c.kind === "shared" ? "🔗" : "#";
      item.innerHTML = `<span class="icon">${icon}</span> ${BK.esc(c.name)}`;
      if (c.kind === "shared") item.title = "Shared with another organisation (Slack Connect)";
      item.addEventListener("click", () => switchChannel(c.id, c.kind === "app" ? "home" : "messages"));
      (c.kind === "app" ? apps : list).append(item);
    }
    if (S.data.channels.some((c) => c.id === S.channel)) {
      const c = currentChannel();
      if (c && c.latest) {
        seen[c.id] = c.latest;
        localStorage.setItem("playground.seen." + S.user, JSON.stringify(seen));
      }
    }
  }

  function renderMain() {
    const channel = currentChannel();
    if (!channel) return;
    const isApp = channel.kind === "app";
    $("#channel-title").textContent = isApp ? channel.name : (channel.kind === "shared" ? "🔗 " : "# ") + channel.name;
    $("#channel-note").textContent = isApp
      ? "The app's page: its Home tab and your DMs with it"
      : channel.kind === "shared"
        ? "Shared with another organisation (Slack Connect)"
        : "";
    $("#tabs").hidden = !isApp;
    for (const t of document.querySelectorAll("#tabs [data-tab]")) t.classList.toggle("active", t.dataset.tab === S.tab);
    const showHome = isApp && S.tab === "home";
    $("#home").hidden = !showHome;
    $("#messages").hidden = showHome;
    $("#composer-box").hidden = showHome;
    if (showHome) renderHome();
    else renderMessages();
  }

  function renderHome() {
    const home = S.data.home;
    const box = $("#home");
    const key = home ? home.id + ":" + home.hash : "none";
    if (S.homeKey === key) return;
    S.homeKey = key;
    box.innerHTML = "";
    if (!home) {
      box.innerHTML = '<div class="empty">Opening the Home tab…</div>';
      return;
    }
    const ctx = bkContext("home", home.id, {
      onAction: (action) => sendViewAction(home.id, action),
      suggest: (blockId, actionId, value) => suggest(home.id, blockId, actionId, value),
    });
    box.append(BK.renderBlocks(home.blocks, ctx));
  }

  function messageNode(m, inThread) {
    const node = document.createElement("div");
    node.className = "msg" + (m.ephemeral ? " ephemeral" : "");
    node.dataset.ts = m.ts;
    const author = m.bot_id ? { real_name: S.data.team ? "crm" : "app", name: "crm", bot: true } : userById(m.user) || { real_name: m.user };
    const avatar = document.createElement("div");
    avatar.className = "avatar" + (author.bot ? " bot" : "");
    avatar.textContent = author.bot ? "📇" : (author.real_name || "?").slice(0, 1);
    const body = document.createElement("div");
    body.className = "msg-body";
    let meta = `<b>${BK.esc(author.real_name || author.name)}</b>`;
    if (author.bot) meta += ' <span class="app-badge">APP</span>';
    meta += ` <span class="time">${BK.esc(formatTime(m.time))}</span>`;
    if (m.edited) meta += ' <span class="edited">(edited)</span>';
    if (m.ephemeral) body.insertAdjacentHTML("beforeend", '<div class="only-you">👁 Only visible to you</div>');
    body.insertAdjacentHTML("beforeend", `<div class="meta">${meta}</div>`);
    const content = document.createElement("div");
    content.className = "content";
    const key = "msg:" + m.ts;
    const ctx = bkContext("message", key, {
      onAction: (action) => sendMessageAction(m, action),
      suggest: async () => ({ options: [] }),
    });
    if (m.blocks && m.blocks.length) content.append(BK.renderBlocks(m.blocks, ctx));
    else content.innerHTML = BK.mrkdwn(m.text, ctx);
    body.append(content);
    for (const f of m.files || []) {
      // Uploaded files (the charts): the stand-in keeps their bytes, the playground serves them.
      const fig = document.createElement("figure");
      fig.className = "msg-file";
      if ((f.mimetype || "").startsWith("image/")) {
        const img = document.createElement("img");
        img.className = "bk-image msg-file-image";
        img.src = "/api/file/" + encodeURIComponent(f.id);
        img.alt = f.alt_txt || f.title || f.name || "";
        img.title = f.title || f.name || "";
        fig.append(img);
      } else {
        fig.insertAdjacentHTML("beforeend", `<span class="bk-image-missing">📎 ${BK.esc(f.name || f.id)}</span>`);
      }
      body.append(fig);
    }
    for (const a of m.attachments || []) {
      const att = document.createElement("div");
      att.className = "attachment";
      att.style.borderColor = a.color ? (a.color.startsWith("#") ? a.color : "#" + a.color) : "#ddd";
      if (a.blocks) att.append(BK.renderBlocks(a.blocks, ctx));
      if (a.title) att.insertAdjacentHTML("beforeend", `<b>${BK.esc(a.title)}</b>`);
      if (a.text) att.insertAdjacentHTML("beforeend", `<div>${BK.mrkdwn(a.text, ctx)}</div>`);
      body.append(att);
    }
    if (!inThread && m.reply_count) {
      const link = document.createElement("div");
      link.className = "thread-link";
      link.textContent = `💬 ${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`;
      link.addEventListener("click", () => openThread(m.ts));
      body.append(link);
    }
    node.append(avatar, body);
    if (!m.ephemeral) node.append(hoverMenu(m, inThread));
    return node;
  }

  function hoverMenu(m, inThread) {
    const menu = document.createElement("div");
    menu.className = "msg-actions";
    if (!inThread) {
      const reply = document.createElement("button");
      reply.title = "Reply in thread";
      reply.className = "reply-button";
      reply.textContent = "💬";
      reply.addEventListener("click", () => openThread(m.ts));
      menu.append(reply);
    }
    const more = document.createElement("button");
    more.title = "Message shortcuts";
    more.className = "shortcut-button";
    more.textContent = "⋮";
    const list = document.createElement("div");
    list.className = "bk-menu";
    list.hidden = true;
    for (const sc of S.data.shortcuts.filter((s) => s.type === "message")) {
      const item = document.createElement("div");
      item.className = "bk-menu-item";
      item.textContent = "⚡ " + sc.name;
      item.dataset.callbackId = sc.callback_id;
      item.addEventListener("click", () => {
        list.hidden = true;
        api("/api/shortcut", { callback_id: sc.callback_id, channel: S.channel, message_ts: m.ts }).catch(() => {});
      });
      list.append(item);
    }
    more.addEventListener("click", (e) => {
      e.stopPropagation();
      const open = list.hidden;
      document.querySelectorAll(".bk-menu").forEach((x) => (x.hidden = true));
      list.hidden = !open;
    });
    menu.append(more, list);
    return menu;
  }

  function editing(box) {
    const active = document.activeElement;
    return !!active && box.contains(active) && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
  }

  function renderMessages() {
    const box = $("#messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    if (editing(box)) return; // don't pull a select or a typeahead from under the user
    box.innerHTML = "";
    const top = S.data.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
    if (!top.length) {
      const c = currentChannel();
      box.innerHTML =
        c && c.kind === "app"
          ? '<div class="empty">This is your DM with the CRM app. Nudges for your follow-ups arrive here. Try <code>/crm help</code>.</div>'
          : '<div class="empty">No messages yet. Try <code>/crm help</code>, <code>/customer acme</code>, <code>/log</code> or <code>@crm who\'s talked to Acme?</code></div>';
    }
    let lastDay = null;
    for (const m of top) {
      const day = m.time ? formatTime(m.time, true).split(",")[0] : null;
      if (day && day !== lastDay) {
        const sep = document.createElement("div");
        sep.className = "day-separator";
        sep.textContent = new Intl.DateTimeFormat("en-GB", { timeZone: me().tz, weekday: "long", month: "long", day: "numeric" }).format(new Date(m.time));
        box.append(sep);
        lastDay = day;
      }
      box.append(messageNode(m, false));
    }
    if (atBottom || !S.scrolledOnce) {
      box.scrollTop = box.scrollHeight;
      S.scrolledOnce = true;
    }
  }

  function renderThread() {
    const pane = $("#thread");
    if (!S.thread) {
      pane.hidden = true;
      return;
    }
    const parent = S.data.messages.find((m) => m.ts === S.thread);
    if (!parent) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const box = $("#thread-messages");
    if (editing(box)) return;
    box.innerHTML = "";
    box.append(messageNode(parent, true));
    const replies = S.data.messages.filter((m) => m.thread_ts === S.thread && m.ts !== S.thread);
    const count = document.createElement("div");
    count.className = "day-separator";
    count.textContent = `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`;
    box.append(count);
    for (const m of replies) box.append(messageNode(m, true));
    box.scrollTop = box.scrollHeight;
  }

  function renderModal() {
    const views = S.data.modal || [];
    const overlay = $("#modal-overlay");
    if (!views.length) {
      overlay.hidden = true;
      S.modalKey = null;
      return;
    }
    const view = views[views.length - 1];
    const key = view.id + ":" + view.hash + ":" + JSON.stringify(S.errors[view.id] || {});
    overlay.hidden = false;
    if (S.modalKey === key) return;
    S.modalKey = key;
    const modal = $("#modal");
    modal.dataset.viewId = view.id;
    modal.dataset.callbackId = view.callback_id || "";
    $("#modal-title").innerHTML = BK.textHTML(view.title, {});
    $("#modal-back").hidden = views.length < 2;
    const body = $("#modal-body");
    body.innerHTML = "";
    if (S.errors[view.id] && S.errors[view.id]._general) {
      body.insertAdjacentHTML("beforeend", `<div class="modal-error">${BK.esc(S.errors[view.id]._general)}</div>`);
    }
    const ctx = bkContext("modal", view.id, {
      onAction: (action) => sendViewAction(view.id, action),
      suggest: (blockId, actionId, value) => suggest(view.id, blockId, actionId, value),
    });
    body.append(BK.renderBlocks(view.blocks, ctx));
    const submit = $("#modal-submit");
    submit.hidden = !view.submit;
    submit.innerHTML = view.submit ? BK.textHTML(view.submit, {}) : "";
    $("#modal-close").innerHTML = view.close ? BK.textHTML(view.close, {}) : views.length > 1 ? "Back" : "Close";
  }

  // ---------------------------------------------------------------- actions
  async function sendMessageAction(message, action) {
    await api("/api/action", {
      action,
      channel: S.channel,
      message_ts: message.ts,
      values: S.forms["msg:" + message.ts] || {},
    }).catch(() => {});
  }

  async function sendViewAction(viewId, action) {
    await api("/api/action", { action, view_id: viewId, values: S.forms[viewId] || {} }).catch(() => {});
  }

  async function suggest(viewId, blockId, actionId, value) {
    try {
      return await api("/api/suggest", { view_id: viewId, block_id: blockId, action_id: actionId, value, values: S.forms[viewId] || {} });
    } catch (e) {
      return { options: [] };
    }
  }

  async function submitModal() {
    const viewId = $("#modal").dataset.viewId;
    const button = $("#modal-submit");
    button.disabled = true;
    try {
      const answer = await api("/api/view_submission", { view_id: viewId, values: S.forms[viewId] || {} });
      if (answer.errors) S.errors[viewId] = answer.errors;
      else if (answer.error) S.errors[viewId] = { _general: answer.error };
      else delete S.errors[viewId];
      S.modalKey = null;
      await refresh(false);
    } catch (e) {
      /* shown as a toast */
    } finally {
      button.disabled = false;
    }
  }

  async function closeModal(all) {
    const viewId = $("#modal").dataset.viewId;
    await api("/api/view_closed", { view_id: viewId, all: !!all }).catch(() => {});
    await refresh(false);
  }

  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const overlay = $("#confirm-overlay");
      $("#confirm-title").innerHTML = BK.textHTML(confirm.title || { type: "plain_text", text: "Are you sure?" }, {});
      $("#confirm-text").innerHTML = BK.textHTML(confirm.text, { users: S.data.users });
      const yes = $("#confirm-yes");
      const no = $("#confirm-no");
      yes.innerHTML = BK.textHTML(confirm.confirm || { type: "plain_text", text: "Yes" }, {});
      no.innerHTML = BK.textHTML(confirm.deny || { type: "plain_text", text: "Cancel" }, {});
      yes.className = "bk-button " + (confirm.style === "danger" ? "danger" : "primary");
      overlay.hidden = false;
      const done = (answer) => {
        overlay.hidden = true;
        yes.onclick = no.onclick = null;
        resolve(answer);
      };
      yes.onclick = () => done(true);
      no.onclick = () => done(false);
    });
  }

  async function send(text, threadTs) {
    text = text.trim();
    if (!text) return;
    if (text.startsWith("/")) await api("/api/command", { channel: S.channel, text });
    else await api("/api/message", { channel: S.channel, text, thread_ts: threadTs || null });
  }

  function switchChannel(channel, tab) {
    S.channel = channel;
    S.tab = tab || "messages";
    S.thread = null;
    S.homeKey = null;
    S.scrolledOnce = false;
    localStorage.setItem("playground.channel", channel);
    if (S.tab === "home") api("/api/home", {}).catch(() => {});
    refresh(false).catch(() => {});
  }

  function openThread(ts) {
    S.thread = ts;
    renderThread();
    $("#thread-input").focus();
  }

  function bindComposer(input, getThread) {
    input.addEventListener("keydown", async (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        const text = input.value;
        input.value = "";
        await send(text, getThread()).catch(() => {});
      }
    });
  }

  // ---------------------------------------------------------------- wiring
  function init() {
    bindComposer($("#composer"), () => null);
    bindComposer($("#thread-input"), () => S.thread);
    $("#send").addEventListener("click", async () => {
      const input = $("#composer");
      const text = input.value;
      input.value = "";
      await send(text, null).catch(() => {});
    });
    $("#user-switcher").addEventListener("change", (e) => {
      S.user = e.target.value;
      localStorage.setItem("playground.user", S.user);
      S.forms = {};
      S.errors = {};
      S.modalKey = null;
      S.homeKey = null;
      const channel = S.channel.startsWith("D") ? "D" + S.user.slice(1) : S.channel;
      switchChannel(channel, S.tab);
    });
    for (const b of document.querySelectorAll("[data-advance]")) {
      b.addEventListener("click", () => api("/api/time", { seconds: Number(b.dataset.advance) }).catch(() => {}));
    }
    for (const t of document.querySelectorAll("#tabs [data-tab]")) {
      t.addEventListener("click", () => switchChannel(S.channel, t.dataset.tab));
    }
    $("#thread-close").addEventListener("click", () => {
      S.thread = null;
      renderThread();
    });
    $("#modal-submit").addEventListener("click", submitModal);
    $("#modal-close").addEventListener("click", () => closeModal(false));
    $("#modal-back").addEventListener("click", () => closeModal(false));
    $("#modal-x").addEventListener("click", () => closeModal(true));
    $("#shortcuts").addEventListener("click", (e) => {
      e.stopPropagation();
      const menu = $("#shortcut-menu");
      menu.innerHTML = "";
      for (const sc of S.data.shortcuts.filter((s) => s.type === "global")) {
        const item = document.createElement("div");
        item.className = "bk-menu-item";
        item.dataset.callbackId = sc.callback_id;
        item.textContent = "⚡ " + sc.name;
        item.addEventListener("click", () => {
          menu.hidden = true;
          api("/api/shortcut", { callback_id: sc.callback_id }).catch(() => {});
        });
        menu.append(item);
      }
      menu.hidden = !menu.hidden;
    });
    document.addEventListener("click", () => document.querySelectorAll(".bk-menu").forEach((m) => (m.hidden = true)));
    refresh(false)
      .then(() => {
        if (!S.data.channels.some((c) => c.id === S.channel)) S.channel = "C0SALES";
        if (S.channel.startsWith("D")) {
          S.tab = "home";
          api("/api/home", {}).catch(() => {});
        }
        return refresh(false);
      })
      .catch(() => {})
      .finally(pollForever);
  }

  window.addEventListener("DOMContentLoaded", init);
})();
