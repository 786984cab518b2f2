/* Block Kit and mrkdwn rendering for the playground (no build step, no dependencies).
 *
 * BK.renderBlocks(blocks, ctx) returns a DOM fragment. ctx describes where the blocks live
 * and how to talk back:
 *   ctx.surface   "message" | "modal" | "home"
 *   ctx.key       where form state is kept (a view id, or "msg:<ts>")
 *   ctx.state     the object holding form state for ctx.key ({block_id: {action_id: {...}}})
 *   ctx.errors    {block_id: message} shown under input blocks
 *   ctx.users     [{id, name, real_name, is_bot}], ctx.channels [{id, name}]
 *   ctx.tz        the viewer's IANA time zone
 *   ctx.onAction(action, element)   a dispatched block action
 *   ctx.suggest(blockId, actionId, value) -> Promise<{options, option_groups}>
 *   ctx.confirm(confirmObject) -> Promise<boolean>
 */
(function () {
  "use strict";

  const EMOJI = {
    white_check_mark: "✅", warning: "⚠️", lock: "🔒", calendar: "📅", zzz: "💤", thinking_face: "🤔",
    tada: "🎉", phone: "📞", no_entry: "⛔", arrow_right: "➡️", alarm_clock: "⏰", x: "❌", heavy_check_mark: "✔️",
    wave: "👋", bell: "🔔", mag: "🔍", memo: "📝", email: "✉️", envelope: "✉️", handshake: "🤝", star: "⭐",
    chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", moneybag: "💰", trophy: "🏆",
    hourglass: "⌛", hourglass_flowing_sand: "⏳", information_source: "ℹ️", bulb: "💡", rocket: "🚀",
    busts_in_silhouette: "👥", bust_in_silhouette: "👤", office: "🏢", link: "🔗", pencil2: "✏️", pencil: "📝",
    heavy_plus_sign: "➕", plus: "➕", page_facing_up: "📄", clipboard: "📋", eyes: "👀", fire: "🔥",
    seedling: "🌱", mag_right: "🔎", headstone: "🪦", spiral_calendar_pad: "🗓️", speech_balloon: "💬",
    red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", sunrise: "🌅", repeat: "🔁",
    leftwards_arrow_with_hook: "↩️", wastebasket: "🗑️", card_index: "📇", telephone_receiver: "📞",
    crm: "📇", sparkles: "✨", calling: "📲", computer: "💻", desktop_computer: "🖥️", hammer_and_wrench: "🛠️",
    ok_hand: "👌", raised_hands: "🙌", thumbsup: "👍", "+1": "👍", "-1": "👎", question: "❓", exclamation: "❗",
    gem: "💎", door: "🚪", loudspeaker: "📢", new: "🆕", broken_chain: "⛓️‍💥", ballot_box_with_check: "☑️",
    small_red_triangle_down: "🔻",
  };

  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function unescapeSlack(s) {
    return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }
  function emojify(html) {
    return html.replace(/:([a-z0-9_+-]+):/g, (m, name) => (EMOJI[name] ? EMOJI[name] : m));
  }

  function userName(id, ctx) {
    const u = (ctx.users || []).find((x) => x.id === id);
    return u ? u.name : id;
  }
  function channelName(id, ctx) {
    const c = (ctx.channels || []).find((x) => x.id === id);
    return c ? c.name : id;
  }

  function renderToken(inner, ctx) {
    const [target, label] = splitOnce(inner, "|");
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return `<span class="mention" data-user="${esc(id)}">@${esc(label || userName(id, ctx))}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      return `<span class="mention">#${esc(label || channelName(id, ctx))}</span>`;
    }
    if (target.startsWith("!subteam^")) return `<span class="mention">${esc(label || "@team")}</span>`;
    if (target.startsWith("!date^")) {
      const parts = target.split("^");
      const when = new Date(Number(parts[1]) * 1000);
      if (!isNaN(when)) return esc(formatDate(when, ctx.tz, parts[2] || "", ctx.now ? new Date(ctx.now) : null));
      return esc(label || "");
    }
    if (target.startsWith("!")) return `<span class="mention">@${esc(target.slice(1))}</span>`;
    const url = unescapeSlack(target);
    const safe = /^(https?:|mailto:|tel:|slack:)/i.test(url) ? url : "#";
    return `<a href="${esc(safe)}" target="_blank" rel="noopener">${esc(unescapeSlack(label || target))}</a>`;
  }

  function splitOnce(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
  }

  // Slack's <!date^epoch^template|fallback>: each {token} in the template, in the viewer's zone;
  // the *_pretty ones say "today", "yesterday" or "tomorrow" when they apply (against ``now``).
  function formatDate(date, tz, fmt, now) {
    const zone = tz || undefined;
    const fmtWith = (opts) => {
      try {
        return new Intl.DateTimeFormat("en-US", Object.assign({ timeZone: zone }, opts)).format(date);
      } catch (e) {
        return date.toISOString();
      }
    };
    const dayKey = (d) => {
      const p = zonedParts(d.getTime(), tz || "UTC");
      return Date.UTC(p.y, p.m - 1, p.d) / 86400000;
    };
    const relative = () => {
      const diff = dayKey(date) - dayKey(now || new Date());
      return { "-1": "yesterday", 0: "today", 1: "tomorrow" }[diff];
    };
    const tokens = {
      date_num: () => {
        const p = zonedParts(date.getTime(), tz || "UTC");
        return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
      },
      date: () => fmtWith({ month: "long", day: "numeric", year: "numeric" }),
      date_short: () => fmtWith({ month: "short", day: "numeric", year: "numeric" }),
      date_long: () => fmtWith({ weekday: "long", month: "long", day: "numeric", year: "numeric" }),
      time: () => fmtWith({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
      time_secs: () => fmtWith({ hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
    };
    for (const base of ["date", "date_short", "date_long"]) {
      tokens[base + "_pretty"] = () => relative() || tokens[base]();
    }
    if (!fmt) return fmtWith({ dateStyle: "medium", timeStyle: "short" });
    return fmt.replace(/\{([a-z_]+)\}/g, (all, name) => (tokens[name] ? tokens[name]() : all));
  }


  /* mrkdwn → HTML. Slack's <…> tokens are rendered first and kept out of the way, so
   * formatting around them (*<url|bold link>*) still works. */
  function mrkdwn(text, ctx) {
    ctx = ctx || {};
    const stash = [];
    const keep = (html) => "\u0001" + (stash.push(html) - 1) + "\u0001";
    let s = String(text == null ? "" : text);
    s = s.replace(/```([\s\S]*?)```/g, (m, code) => keep(`<pre>${esc(unescapeSlack(code.replace(/^\n/, "")))}</pre>`));
    s = s.replace(/`([^`\n]+)`/g, (m, code) => keep(`<code>${esc(unescapeSlack(code))}</code>`));
    s = s.replace(/<([^<>\n]+)>/g, (m, inner) => keep(renderToken(inner, ctx)));
    s = esc(unescapeSlack(s));
    s = s.replace(/(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g, "<b>$1</b>");
    s = s.replace(/(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])/g, "<i>$1</i>");
    s = s.replace(/(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])/g, "<s>$1</s>");
    s = emojify(s);
    // Quotes: lines starting with ">" (escaped by now).
    const lines = s.split("\n");
    const out = [];
    let quote = [];
    const flush = () => {
      if (quote.length) out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
      quote = [];
    };
    for (const line of lines) {
      const m = line.match(/^&gt;\s?(.*)$/);
      if (m) quote.push(m[1]);
      else {
        flush();
        out.push(line + "\n");
      }
    }
    flush();
    s = out.join("").replace(/\n$/, "").replace(/\n/g, "<br>");
    return s.replace(/\u0001(\d+)\u0001/g, (m, i) => stash[Number(i)]);
  }

  function textHTML(obj, ctx) {
    if (!obj) return "";
    if (typeof obj === "string") return mrkdwn(obj, ctx);
    if (obj.type === "mrkdwn") return mrkdwn(obj.text, ctx);
    const plain = esc(obj.text).replace(/\n/g, "<br>");
    return obj.emoji === false ? plain : emojify(plain);
  }
  function plainText(obj) {
    if (!obj) return "";
    const s = typeof obj === "string" ? obj : obj.text || "";
    return s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  }

  function el(tag, attrs, html) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    if (html != null) node.innerHTML = html;
    return node;
  }

  // ---------------------------------------------------------------- time zones
  function zonedParts(epochMs, tz) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(epochMs));
    const get = (t) => Number(parts.find((p) => p.type === t).value);
    return { y: get("year"), m: get("month"), d: get("day"), h: get("hour"), min: get("minute"), s: get("second") };
  }
  function pad(n) {
    return String(n).padStart(2, "0");
  }
  function epochToLocalInput(epochSeconds, tz) {
    const p = zonedParts(epochSeconds * 1000, tz);
    return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.min)}`;
  }
  function localInputToEpoch(value, tz) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!m) return null;
    const asUTC = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    const offsetAt = (t) => {
      const p = zonedParts(t, tz);
      return Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s) - Math.floor(t / 1000) * 1000;
    };
    let t = asUTC - offsetAt(asUTC);
    const second = offsetAt(t);
    if (asUTC - second !== t) t = asUTC - second;
    return Math.round(t / 1000);
  }

  // ---------------------------------------------------------------- form state
  function stateOf(ctx, blockId, actionId) {
    return ((ctx.state || {})[blockId] || {})[actionId];
  }
  function setState(ctx, blockId, actionId, value) {
    if (!ctx.state) return;
    ctx.state[blockId] = ctx.state[blockId] || {};
    ctx.state[blockId][actionId] = value;
  }

  function allOptions(element) {
    const found = [...(element.options || [])];
    for (const group of element.option_groups || []) found.push(...(group.options || []));
    return found;
  }
  function sameOption(a, b) {
    return a && b && a.value === b.value;
  }

  function dispatch(ctx, place, element, extra) {
    if (!place.dispatches) return;
    const action = Object.assign(
      { type: element.type, action_id: element.action_id, block_id: place.blockId },
      extra
    );
    ctx.onAction(action, element);
    // In a message or the Home tab the app answers a choice by rewriting the surface, as Slack
    // does: let go of the menu so the page can redraw it (a focused menu is never pulled away).
    if (ctx.surface !== "modal" && document.activeElement && document.activeElement !== document.body) {
      document.activeElement.blur();
    }
  }

  // ---------------------------------------------------------------- elements
  function renderElement(element, ctx, place) {
    const blockId = place.blockId;
    const actionId = element.action_id || "";
    const common = { "data-block-id": blockId, "data-action-id": actionId, "data-type": element.type };
    switch (element.type) {
      case "button": {
        const b = el("button", Object.assign({ class: "bk-button " + (element.style || ""), type: "button" }, common));
        b.innerHTML = textHTML(element.text, ctx);
        if (element.value != null) b.dataset.value = element.value;
        b.addEventListener("click", async () => {
          if (element.confirm && !(await ctx.confirm(element.confirm))) return;
          if (element.url) window.open(element.url, "_blank", "noopener");
          ctx.onAction(
            { type: "button", action_id: actionId, block_id: blockId, value: element.value, text: element.text },
            element
          );
        });
        return b;
      }
      case "static_select":
      case "users_select":
      case "conversations_select":
      case "channels_select":
        return renderSelect(element, ctx, place, common);
      case "external_select":
        return renderExternal(element, ctx, place, common);
      case "multi_static_select":
      case "multi_users_select":
        return renderMultiSelect(element, ctx, place, common);
      case "overflow":
        return renderOverflow(element, ctx, place, common);
      case "datepicker": {
        const input = el("input", Object.assign({ type: "date", class: "bk-input" }, common));
        const current = stateOf(ctx, blockId, actionId);
        const value = current ? current.selected_date : element.initial_date || null;
        if (!current) setState(ctx, blockId, actionId, { type: "datepicker", selected_date: value });
        if (value) input.value = value;
        input.addEventListener("change", () => {
          const v = input.value || null;
          setState(ctx, blockId, actionId, { type: "datepicker", selected_date: v });
          dispatch(ctx, place, element, { selected_date: v, initial_date: element.initial_date });
        });
        return input;
      }
      case "timepicker": {
        const input = el("input", Object.assign({ type: "time", class: "bk-input" }, common));
        const current = stateOf(ctx, blockId, actionId);
        const value = current ? current.selected_time : element.initial_time || null;
        if (!current) setState(ctx, blockId, actionId, { type: "timepicker", selected_time: value });
        if (value) input.value = value;
        input.addEventListener("change", () => {
          const v = input.value || null;
          setState(ctx, blockId, actionId, { type: "timepicker", selected_time: v });
          dispatch(ctx, place, element, { selected_time: v });
        });
        return input;
      }
      case "datetimepicker": {
        const input = el("input", Object.assign({ type: "datetime-local", class: "bk-input" }, common));
        const current = stateOf(ctx, blockId, actionId);
        const value = current ? current.selected_date_time : element.initial_date_time || null;
        if (!current) setState(ctx, blockId, actionId, { type: "datetimepicker", selected_date_time: value });
        if (value) input.value = epochToLocalInput(value, ctx.tz);
        input.addEventListener("change", () => {
          const v = localInputToEpoch(input.value, ctx.tz);
          setState(ctx, blockId, actionId, { type: "datetimepicker", selected_date_time: v });
          dispatch(ctx, place, element, { selected_date_time: v });
        });
        const wrap = el("span", { class: "bk-datetime" });
        wrap.append(input, el("span", { class: "bk-tz", text: ctx.tz }));
        return wrap;
      }
      case "checkboxes":
      case "radio_buttons":
        return renderChoices(element, ctx, place, common);
      case "plain_text_input":
      case "number_input":
      case "email_text_input":
      case "url_text_input": {
        const multiline = element.type === "plain_text_input" && element.multiline;
        const kind = { number_input: "number", email_text_input: "email", url_text_input: "url" }[element.type] || "text";
        const input = multiline
          ? el("textarea", Object.assign({ class: "bk-input", rows: 4 }, common))
          : el("input", Object.assign({ class: "bk-input", type: kind }, common));
        if (element.placeholder) input.placeholder = plainText(element.placeholder);
        if (element.max_length) input.maxLength = element.max_length;
        const current = stateOf(ctx, blockId, actionId);
        const value = current ? current.value : element.initial_value == null ? null : String(element.initial_value);
        if (!current) setState(ctx, blockId, actionId, { type: element.type, value: value });
        if (value != null) input.value = value;
        input.addEventListener("input", () => {
          setState(ctx, blockId, actionId, { type: element.type, value: input.value === "" ? null : input.value });
        });
        return input;
      }
      case "image":
        return renderImage(element, "bk-thumb");
      default:
        return el("span", { class: "bk-unsupported", text: `[${element.type}]` });
    }
  }

  function renderImage(element, cls) {
    const img = el("img", { class: cls, src: element.image_url || element.url || "", alt: element.alt_text || "" });
    img.addEventListener("error", () => {
      const alt = el("span", { class: cls + " bk-image-missing", text: "🖼 " + (element.alt_text || "image") });
      img.replaceWith(alt);
    });
    return img;
  }

  function optionLabel(option) {
    return plainText(option.text);
  }

  function renderSelect(element, ctx, place, common) {
    const blockId = place.blockId;
    const actionId = element.action_id || "";
    const select = el("select", Object.assign({ class: "bk-select" }, common));
    const placeholder = el("option", { value: "", text: plainText(element.placeholder) || "Select…" });
    select.append(placeholder);
    let options = [];
    if (element.type === "static_select") {
      const addOptions = (parent, list) => {
        for (const o of list || []) {
          parent.append(el("option", { value: o.value, text: optionLabel(o) }));
          options.push(o);
        }
      };
      addOptions(select, element.options);
      for (const group of element.option_groups || []) {
        const g = el("optgroup", { label: plainText(group.label) });
        addOptions(g, group.options);
        select.append(g);
      }
    } else if (element.type === "users_select") {
      for (const u of (ctx.users || []).filter((x) => !x.is_bot)) {
        select.append(el("option", { value: u.id, text: `${u.real_name} (@${u.name})` }));
      }
    } else {
      for (const c of ctx.channels || []) select.append(el("option", { value: c.id, text: "#" + c.name }));
    }
    const key = { users_select: "selected_user", conversations_select: "selected_conversation", channels_select: "selected_channel" }[element.type];
    const current = stateOf(ctx, blockId, actionId);
    let value;
    if (element.type === "static_select") {
      const chosen = current ? current.selected_option : element.initial_option || null;
      if (!current) setState(ctx, blockId, actionId, { type: element.type, selected_option: chosen });
      value = chosen ? chosen.value : "";
    } else {
      const initial = element.initial_user || element.initial_conversation || element.initial_channel || null;
      value = current ? current[key] : initial;
      if (!current) setState(ctx, blockId, actionId, { type: element.type, [key]: value });
    }
    select.value = value || "";
    select.addEventListener("change", () => {
      if (element.type === "static_select") {
        const chosen = options.find((o) => o.value === select.value) || null;
        setState(ctx, blockId, actionId, { type: element.type, selected_option: chosen });
        dispatch(ctx, place, element, { selected_option: chosen });
      } else {
        const v = select.value || null;
        setState(ctx, blockId, actionId, { type: element.type, [key]: v });
        dispatch(ctx, place, element, { [key]: v });
      }
    });
    if (element.confirm) select.dataset.confirm = "1";
    return select;
  }

  function renderMultiSelect(element, ctx, place, common) {
    const blockId = place.blockId;
    const actionId = element.action_id || "";
    const select = el("select", Object.assign({ class: "bk-select", multiple: true, size: 4 }, common));
    const isUsers = element.type === "multi_users_select";
    const options = isUsers
      ? (ctx.users || []).filter((u) => !u.is_bot).map((u) => ({ value: u.id, text: { text: u.real_name } }))
      : allOptions(element);
    for (const o of options) select.append(el("option", { value: o.value, text: optionLabel(o) }));
    const current = stateOf(ctx, blockId, actionId);
    const read = () => [...select.selectedOptions].map((o) => o.value);
    let chosen;
    if (isUsers) chosen = current ? current.selected_users : element.initial_users || [];
    else chosen = (current ? current.selected_options : element.initial_options || []).map((o) => o.value);
    for (const o of select.options) o.selected = chosen.includes(o.value);
    const save = () => {
      const values = read();
      const stateValue = isUsers
        ? { type: element.type, selected_users: values }
        : { type: element.type, selected_options: options.filter((o) => values.includes(o.value)) };
      setState(ctx, blockId, actionId, stateValue);
      return stateValue;
    };
    if (!current) save();
    select.addEventListener("change", () => {
      const v = save();
      dispatch(ctx, place, element, isUsers ? { selected_users: v.selected_users } : { selected_options: v.selected_options });
    });
    return select;
  }

  function renderExternal(element, ctx, place, common) {
    const blockId = place.blockId;
    const actionId = element.action_id || "";
    const wrap = el("div", Object.assign({ class: "bk-typeahead" }, common));
    const input = el("input", {
      class: "bk-input",
      type: "text",
      autocomplete: "off",
      "data-typeahead": actionId,
      placeholder: plainText(element.placeholder) || "Type to search…",
    });
    const list = el("div", { class: "bk-typeahead-list", hidden: true });
    wrap.append(input, list);
    const current = stateOf(ctx, blockId, actionId);
    const chosen = current ? current.selected_option : element.initial_option || null;
    if (!current) setState(ctx, blockId, actionId, { type: "external_select", selected_option: chosen });
    if (chosen) {
      input.value = optionLabel(chosen);
      wrap.classList.add("chosen");
    }
    const minLength = element.min_query_length == null ? 3 : element.min_query_length;
    let timer = null;
    let asked = 0;
    const choose = (option) => {
      input.value = optionLabel(option);
      wrap.classList.add("chosen");
      list.hidden = true;
      setState(ctx, blockId, actionId, { type: "external_select", selected_option: option });
      dispatch(ctx, place, element, { selected_option: option });
    };
    const show = (answer) => {
      list.innerHTML = "";
      const groups = (answer.option_groups || []).length
        ? answer.option_groups
        : [{ label: null, options: answer.options || [] }];
      let count = 0;
      for (const group of groups) {
        if (group.label) list.append(el("div", { class: "bk-typeahead-group", text: plainText(group.label) }));
        for (const option of group.options || []) {
          const item = el("div", { class: "bk-typeahead-option", "data-value": option.value, text: optionLabel(option) });
          item.addEventListener("mousedown", (e) => {
            e.preventDefault();
            choose(option);
          });
          list.append(item);
          count += 1;
        }
      }
      if (!count) list.append(el("div", { class: "bk-typeahead-empty", text: "No results" }));
      list.hidden = false;
    };
    input.addEventListener("input", () => {
      wrap.classList.remove("chosen");
      clearTimeout(timer);
      const value = input.value;
      if (value.length < minLength) {
        list.hidden = true;
        return;
      }
      timer = setTimeout(async () => {
        const mine = ++asked;
        const answer = await ctx.suggest(blockId, actionId, value);
        if (mine === asked && document.activeElement === input) show(answer);
      }, 150);
    });
    input.addEventListener("blur", () => {
      setTimeout(() => {
        list.hidden = true;
        const state = stateOf(ctx, blockId, actionId);
        if (state && state.selected_option) input.value = optionLabel(state.selected_option);
      }, 150);
    });
    return wrap;
  }

  function renderOverflow(element, ctx, place, common) {
    const wrap = el("span", { class: "bk-overflow" });
    const button = el("button", Object.assign({ class: "bk-button bk-overflow-button", type: "button", title: "More actions" }, common), "⋯");
    const menu = el("div", { class: "bk-menu", hidden: true });
    for (const option of element.options || []) {
      const item = el("div", { class: "bk-menu-item", "data-value": option.value, text: optionLabel(option) });
      item.addEventListener("click", async () => {
        menu.hidden = true;
        if (element.confirm && !(await ctx.confirm(element.confirm))) return;
        if (option.url) window.open(option.url, "_blank", "noopener");
        ctx.onAction({ type: "overflow", action_id: element.action_id, block_id: place.blockId, selected_option: option }, element);
      });
      menu.append(item);
    }
    button.addEventListener("click", (e) => {
      e.stopPropagation();
      const open = menu.hidden;
      document.querySelectorAll(".bk-menu").forEach((m) => (m.hidden = true));
      menu.hidden = !open;
    });
    wrap.append(button, menu);
    return wrap;
  }

  function renderChoices(element, ctx, place, common) {
    const blockId = place.blockId;
    const actionId = element.action_id || "";
    const multiple = element.type === "checkboxes";
    const box = el("div", Object.assign({ class: "bk-choices" }, common));
    const name = `${ctx.key}:${blockId}:${actionId}`;
    const current = stateOf(ctx, blockId, actionId);
    let selected;
    if (multiple) selected = current ? current.selected_options || [] : element.initial_options || [];
    else selected = current ? (current.selected_option ? [current.selected_option] : []) : element.initial_option ? [element.initial_option] : [];
    const save = () => {
      const picked = [...box.querySelectorAll("input")].filter((i) => i.checked).map((i) => element.options[Number(i.dataset.index)]);
      const value = multiple
        ? { type: element.type, selected_options: picked }
        : { type: element.type, selected_option: picked[0] || null };
      setState(ctx, blockId, actionId, value);
      return value;
    };
    (element.options || []).forEach((option, index) => {
      const label = el("label", { class: "bk-choice" });
      const input = el("input", { type: multiple ? "checkbox" : "radio", name, value: option.value, "data-index": index });
      input.checked = selected.some((s) => sameOption(s, option));
      const text = el("span", { class: "bk-choice-text" }, textHTML(option.text, ctx));
      if (option.description) text.append(el("div", { class: "bk-choice-description" }, textHTML(option.description, ctx)));
      label.append(input, text);
      input.addEventListener("change", () => {
        const value = save();
        dispatch(ctx, place, element, multiple ? { selected_options: value.selected_options } : { selected_option: value.selected_option });
      });
      box.append(label);
    });
    if (!current) save();
    return box;
  }

  // ---------------------------------------------------------------- blocks
  function renderBlock(block, ctx, index) {
    const blockId = block.block_id || `auto_${index}`;
    const node = el("div", { class: `bk-block bkb-${block.type}`, "data-block-id": blockId });
    const inView = ctx.surface !== "message";
    switch (block.type) {
      case "header":
        node.append(el("h3", {}, textHTML(block.text, ctx)));
        break;
      case "section": {
        const main = el("div", { class: "bk-section-main" });
        if (block.text) main.append(el("div", { class: "bk-text" }, textHTML(block.text, ctx)));
        if (block.fields) {
          const grid = el("div", { class: "bk-fields" });
          for (const field of block.fields) grid.append(el("div", { class: "bk-field" }, textHTML(field, ctx)));
          main.append(grid);
        }
        node.append(main);
        if (block.accessory) {
          const accessory = el("div", { class: "bk-accessory" });
          const place = { blockId, dispatches: true };
          accessory.append(
            block.accessory.type === "image" ? renderImage(block.accessory, "bk-accessory-image") : renderElement(block.accessory, ctx, place)
          );
          node.append(accessory);
        }
        break;
      }
      case "context":
        for (const item of block.elements || []) {
          if (item.type === "image") node.append(renderImage(item, "bk-context-image"));
          else node.append(el("span", { class: "bk-context-text" }, textHTML(item, ctx)));
        }
        break;
      case "divider":
        node.append(el("hr"));
        break;
      case "actions": {
        const place = { blockId, dispatches: true };
        for (const item of block.elements || []) node.append(renderElement(item, ctx, place));
        break;
      }
      case "image": {
        if (block.title) node.append(el("div", { class: "bk-image-title" }, textHTML(block.title, ctx)));
        node.append(renderImage(block, "bk-image"));
        break;
      }
      case "input": {
        const label = el("label", { class: "bk-label" }, textHTML(block.label, ctx));
        if (block.optional) label.append(el("span", { class: "bk-optional", text: " (optional)" }));
        node.append(label);
        const place = { blockId, dispatches: !inView || !!block.dispatch_action };
        node.append(renderElement(block.element || {}, ctx, place));
        if (block.hint) node.append(el("div", { class: "bk-hint" }, textHTML(block.hint, ctx)));
        const error = (ctx.errors || {})[blockId];
        if (error) {
          node.classList.add("has-error");
          node.append(el("div", { class: "bk-error", text: error }));
        }
        break;
      }
      case "rich_text":
        node.append(el("div", { class: "bk-text" }, richText(block, ctx)));
        break;
      default:
        node.append(el("div", { class: "bk-unsupported", text: `[unsupported block: ${block.type}]` }));
    }
    return node;
  }

  function richText(block, ctx) {
    const parts = [];
    const walk = (items) => {
      for (const item of items || []) {
        if (item.type === "text") parts.push(esc(item.text));
        else if (item.type === "user") parts.push(`<span class="mention">@${esc(userName(item.user_id, ctx))}</span>`);
        else if (item.type === "link") parts.push(`<a href="${esc(item.url)}" target="_blank">${esc(item.text || item.url)}</a>`);
        else if (item.type === "emoji") parts.push(EMOJI[item.name] || `:${esc(item.name)}:`);
        else if (item.elements) walk(item.elements);
      }
    };
    walk(block.elements);
    return parts.join("").replace(/\n/g, "<br>");
  }

  function renderBlocks(blocks, ctx) {
    const fragment = document.createDocumentFragment();
    (blocks || []).forEach((block, index) => fragment.append(renderBlock(block, ctx, index)));
    return fragment;
  }

  window.BK = { renderBlocks, mrkdwn, textHTML, plainText, esc, epochToLocalInput, localInputToEpoch, zonedParts, formatDate };
})();
