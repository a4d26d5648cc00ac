/* The one-page composer on the issue's admin page (issues/admin_composer.py).
 *
 * The page is the state: sections are <li> elements, read back on each save
 * and posted as JSON to the compose endpoint. Only what differs from the last
 * state the server confirmed is sent: the changed issue fields, and each
 * section whole when it changed, else as its id (which keeps its place in the
 * order). Changes save a few seconds after
 * typing stops and when a field loses focus; nothing reloads, so the cursor
 * stays where it is. A conflict (someone saved a newer version) stops
 * autosave and offers a reload; a network error keeps the text and retries.
 *
 * On an issue template's page (state.mode "template") the same editor edits
 * the template's sections with their fixed texts only; nothing saves by
 * itself: the form's Save posts the sections as JSON in its hidden "shape".
 */
(function () {
  "use strict";

  const LABELS = {
    kind: "Kind", heading: "Heading", body: "Text", analysis: "Why it matters",
    sponsor_label: "Sponsor label", partner_name: "Partner", link_url: "Link", link_label: "Link label",
  };
  const SECTION_FIELDS = ["heading", "sponsor_label", "partner_name", "link_url", "link_label", "body", "analysis"];
  const RICH = new Set(["body", "analysis"]);
  const ISSUE_FIELDS = ["title", "slug", "subject", "preheader", "summary", "cover_alt", "canonical_url"];
  const session = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");

  let state, list, statusEl, templateMode = false;
  let dirty = false, saving = false, timer = null, retryMs = 0, stopped = false, leaving = false, counter = 0;
  // Autosaves refresh the session's revision only now and then; the page's last save forces it.
  let unrecorded = false;
  const editors = new WeakMap();
  // What the server last confirmed: each section's values (as JSON) and each issue field's.
  const confirmed = new WeakMap();
  const confirmedIssue = {};

  function make(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    children.forEach((c) => c && node.append(c));
    return node;
  }

  function csrf() {
    return document.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "composer-status-" + (kind || "info");
    // For people's scripts and the browser tests: "saved" once nothing waits to be saved.
    statusEl.dataset.state = kind === "ok" && !dirty ? "saved" : kind || "saving";
  }

  // --- rich text: CKEditor 5 (the bundle django-ckeditor-5 serves) ---------
  function richField(value, inline) {
    const host = make("div", { class: inline ? "composer-inline" : "composer-rich" });
    host.dataset.value = value || "";
    const config = inline ? { ...state.inline_config } : { ...state.rich_config };
    if (!inline) config.simpleUpload = { uploadUrl: state.upload_url, headers: { "X-CSRFToken": csrf() } };
    const editable = make("div");
    host.append(editable);
    window.ClassicEditor.create(editable, config).then((editor) => {
      editor.setData(host.dataset.value);
      editors.set(host, editor);
      editor.model.document.on("change:data", changed);
      editor.ui.focusTracker.on("change:isFocused", (evt, name, focused) => focused || saveSoon(0));
      if (!state.editable) editor.enableReadOnlyMode("composer");
    }).catch((error) => console.error(error));
    return host;
  }

  function richValue(host) {
    const editor = editors.get(host);
    return editor ? editor.getData() : host.dataset.value;
  }

  // The section fields this page edits: all of them, or a template's fixed texts.
  function sectionFields() {
    return state.section_fields || SECTION_FIELDS;
  }

  // --- building the page ----------------------------------------------------
  function fieldRow(name, control) {
    return make("div", { class: "composer-field", "data-field": name },
      make("label", { text: LABELS[name] || name }), control,
      make("ul", { class: "errorlist composer-errors" }));
  }

  function input(value, attrs) {
    const node = make("input", { type: "text", ...(attrs || {}) });
    node.value = value || "";
    if (!state.editable) node.disabled = true;
    return node;
  }

  function buttons(...specs) {
    if (!state.editable) return null;
    return make("span", { class: "composer-buttons" },
      ...specs.map(([label, title, handler, cls]) =>
        make("button", { type: "button", class: "button " + (cls || ""), title, text: label, onclick: handler })));
  }

  function itemRow(item) {
    const row = make("li", { class: "composer-item" });
    row.append(
      state.editable ? make("span", { class: "composer-handle", draggable: "true", title: "Drag to reorder", text: "⠿" }) : "",
      make("span", { class: "composer-item-field", "data-item": "label" }, input(item.label, { placeholder: "Bold label", "aria-label": "Label" })),
      make("span", { class: "composer-item-field", "data-item": "text" }, richField(item.text, true)),
      make("span", { class: "composer-item-field", "data-item": "url" }, input(item.url, { type: "url", placeholder: "https://", "aria-label": "Link" })),
      buttons(["↑", "Move up", () => move(row, -1)], ["↓", "Move down", () => move(row, 1)],
        ["✕", "Remove this item", () => { row.remove(); changed(); }, "composer-remove-item"]),
      make("ul", { class: "errorlist composer-errors" }));
    return row;
  }

  function sectionEl(data) {
    const li = make("li", { class: "composer-section" });
    li.dataset.id = data.id || "";
    li.dataset.key = "s" + (++counter);
    const kind = make("select", { class: "composer-kind-select", "aria-label": "Kind" });
    state.kind_order.forEach((k) => kind.append(make("option", { value: k, text: state.kinds[k].label })));
    kind.value = data.kind;
    kind.disabled = !state.editable;
    kind.addEventListener("change", () => { showKind(li); changed(); });
    const title = make("span", { class: "composer-title", text: data.heading || "(untitled)" });
    const head = make("div", { class: "composer-head" },
      state.editable ? make("span", { class: "composer-handle", draggable: "true", title: "Drag to reorder", text: "⠿" }) : "",
      make("strong", { class: "composer-kind" }), title,
      buttons(["↑", "Move up", () => move(li, -1)], ["↓", "Move down", () => move(li, 1)],
        ["Collapse", "Collapse or expand", () => li.classList.toggle("collapsed"), "composer-toggle"],
        ["Remove", "Remove this section", () => remove(li), "composer-remove"]));
    const body = make("div", { class: "composer-body" }, fieldRow("kind", kind));
    sectionFields().forEach((name) => {
      const control = RICH.has(name) ? richField(data[name], false)
        : input(data[name], name === "link_url" ? { type: "url", placeholder: "https://" } : {});
      if (name === "sponsor_label") control.placeholder = state.sponsor_default;
      body.append(fieldRow(name, control));
    });
    const items = make("ol", { class: "composer-item-list" });
    (data.items || []).forEach((item) => items.append(itemRow(item)));
    body.append(make("div", { class: "composer-items" }, make("h3", { class: "composer-items-label" }), items,
      buttons(["Add item", "Add an item at the end", () => { items.append(itemRow({})); changed(); }, "composer-add-item"]),
      make("ul", { class: "errorlist composer-errors" })));
    li.append(head, body, insertBar());
    showKind(li);
    return li;
  }

  function showKind(li) {
    const spec = state.kinds[li.querySelector(".composer-kind-select").value];
    li.dataset.kind = li.querySelector(".composer-kind-select").value;
    li.querySelector(".composer-kind").textContent = spec.label;
    li.querySelectorAll(".composer-body > .composer-field").forEach((row) => {
      row.hidden = row.dataset.field !== "kind" && !spec.fields.includes(row.dataset.field);
    });
    const items = li.querySelector(".composer-items");
    items.hidden = !spec.item_fields.length;
    items.querySelector(".composer-items-label").textContent = spec.items_label;
    items.dataset.fields = spec.item_fields.join(" ");
  }

  function insertBar() {
    if (!state.editable) return null;
    const kind = make("select", { class: "composer-insert-kind", "aria-label": "Kind of the new section" });
    state.kind_order.forEach((k) => kind.append(make("option", { value: k, text: state.kinds[k].label })));
    const bar = make("div", { class: "composer-insert" }, kind);
    bar.append(make("button", { type: "button", class: "button composer-insert-button", text: "Add section here",
      onclick: () => {
        const fresh = sectionEl({ kind: kind.value, items: [] });
        const after = bar.closest(".composer-section");
        if (after) after.after(fresh); else list.prepend(fresh);
        fresh.querySelector('[data-field="heading"] input').focus();
        changed();
      } }));
    return bar;
  }

  function move(node, step) {
    const other = step < 0 ? node.previousElementSibling : node.nextElementSibling;
    if (!other) return;
    if (step < 0) other.before(node); else other.after(node);
    changed();
  }

  function remove(li) {
    const heading = li.querySelector('[data-field="heading"] input').value || "this section";
    if (window.confirm("Remove “" + heading + "” and its items?")) { li.remove(); changed(); }
  }

  // --- drag to reorder (sections and items alike) -----------------------------
  let dragged = null;
  function dragSetup(root) {
    root.addEventListener("dragstart", (e) => {
      if (!e.target.classList || !e.target.classList.contains("composer-handle")) return;
      dragged = e.target.closest(".composer-item, .composer-section");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", "");
      dragged.classList.add("dragging");
    });
    root.addEventListener("dragover", (e) => {
      if (!dragged) return;
      const over = e.target.closest && e.target.closest("." + dragged.classList[0]);
      if (!over || over === dragged || over.parentNode !== dragged.parentNode) return;
      e.preventDefault();
      const box = over.getBoundingClientRect();
      if (e.clientY > box.top + box.height / 2) over.after(dragged); else over.before(dragged);
    });
    root.addEventListener("drop", (e) => { if (dragged) e.preventDefault(); });
    root.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      changed();
    });
  }

  // --- saving ------------------------------------------------------------------
  function issueValues() {
    const issue = {};
    ISSUE_FIELDS.forEach((name) => {
      const node = document.getElementById("id_" + name);
      if (node) issue[name] = node.value;
    });
    // Authors, tags and the publish date save by themselves too (the cover through its own endpoint).
    ["authors", "tags"].forEach((name) => {
      const node = document.getElementById("id_" + name);
      if (node) issue[name] = Array.from(node.selectedOptions, (option) => option.value);
    });
    const day = document.getElementById("id_publish_date_0"), time = document.getElementById("id_publish_date_1");
    if (day && time) issue.publish_date = [day.value, time.value];
    return issue;
  }

  function sectionValues(li) {
    const data = { kind: li.dataset.kind };
    sectionFields().forEach((name) => {
      const row = li.querySelector(`.composer-body > [data-field="${name}"]`);
      data[name] = RICH.has(name) ? richValue(row.querySelector(".composer-rich")) : row.querySelector("input").value;
    });
    const fields = li.querySelector(".composer-items").dataset.fields.split(" ").filter(Boolean);
    data.items = fields.length ? Array.from(li.querySelectorAll(".composer-item")).map((row) => ({
      label: fields.includes("label") ? row.querySelector('[data-item="label"] input').value : "",
      text: richValue(row.querySelector(".composer-inline")),
      url: fields.includes("url") ? row.querySelector('[data-item="url"] input').value : "",
    })) : [];
    return data;
  }

  // What to send: the fields and sections that differ from what the server confirmed,
  // with the JSON of each (``sent``) to confirm once the answer comes.
  function collect() {
    const issue = {}, sent = { issue: {}, sections: new Map() };
    Object.entries(issueValues()).forEach(([name, value]) => {
      const text = JSON.stringify(value);
      if (confirmedIssue[name] !== text) { issue[name] = value; sent.issue[name] = text; }
    });
    const sections = Array.from(list.children).map((li) => {
      const id = Number(li.dataset.id) || null, key = li.dataset.key, values = sectionValues(li);
      const text = JSON.stringify(values);
      if (id && confirmed.get(li) === text) return { id, key };
      sent.sections.set(key, [li, text]);
      return { id, key, ...values };
    });
    return { body: { issue, sections }, sent };
  }

  // The server stored what was sent, except what it refused (sent again next time).
  function confirm(sent, body) {
    Object.entries(sent.issue).forEach(([name, text]) => {
      if (!(body.issue_errors || {})[name]) confirmedIssue[name] = text;
    });
    (body.sections || []).forEach((entry) => {
      const [li, text] = sent.sections.get(entry.key) || [];
      if (li && !Object.keys(entry.errors).length) confirmed.set(li, text);
    });
  }

  function changed() {
    if (stopped || !state.editable) return;
    dirty = true;
    statusEl.dataset.state = "dirty";
    document.querySelectorAll(".composer-title").forEach((t) => {
      t.textContent = t.closest(".composer-section").querySelector('[data-field="heading"] input').value || "(untitled)";
    });
    if (templateMode) return setStatus("Not saved yet: press Save to keep these sections.", "info");
    saveSoon(state.delay);
  }

  function saveSoon(delay) {
    if (!dirty || stopped) return;
    clearTimeout(timer);
    timer = setTimeout(save, delay);
  }

  function retry(text) {
    dirty = true;
    retryMs = Math.min(Math.max(retryMs * 2, 2000), 30000);
    setStatus(text + " Your text is kept in this page; trying again in " + retryMs / 1000 + " s.", "error");
    clearTimeout(timer);
    timer = setTimeout(save, retryMs);
  }

  // ``final``: the editor may be leaving; the save also brings the session's revision up to date.
  async function save(final) {
    clearTimeout(timer);
    timer = null;
    if (!dirty || stopped) return;
    if (saving) { timer = setTimeout(save, 300); return; }
    saving = true;
    dirty = false;
    setStatus("Saving…");
    let response, body = {};
    const changes = collect();
    const text = JSON.stringify({ version: state.version, session, ...changes.body, ...(final ? { final } : {}) });
    try {
      // keepalive: a save under way when the page goes away still arrives (up to 64 kB in flight).
      response = await fetch(state.url, {
        method: "POST", credentials: "same-origin", keepalive: new Blob([text]).size < 60000,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: text,
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      saving = false;
      retry("Not saved: the server could not be reached.");
      return;
    }
    saving = false;
    if (response.status === 409) return conflict(body.error);
    if (response.status >= 500 || (response.status === 404 && !body.error)) return retry("Not saved: the server had a problem.");
    if (!response.ok) { dirty = true; stopped = true; return setStatus("Not saved: " + (body.error || response.statusText), "error"); }
    retryMs = 0;
    unrecorded = !final;
    confirm(changes.sent, body);
    state.version = body.version;
    const base = document.getElementById("id_base_version");
    if (base) base.value = body.version;
    showErrors(body);
    setStatus(body.ok ? "Saved at " + body.saved_at : "Saved at " + body.saved_at + ", except what is marked below.",
      body.ok ? "ok" : "error");
    if (dirty) saveSoon(state.delay);
  }

  function conflict(message) {
    stopped = true;
    const box = document.getElementById("composer-conflict");
    box.querySelector("span").textContent = message;
    box.hidden = false;
    setStatus("Not saved: someone else changed this issue.", "error");
  }

  function errorList(container, messages) {
    const target = container.querySelector(":scope > .composer-errors");
    target.replaceChildren(...(messages || []).map((m) => make("li", { text: m })));
    container.classList.toggle("errors", Boolean(messages && messages.length));
  }

  function showErrors(body) {
    document.querySelectorAll(".composer .errors").forEach((n) => errorList(n, []));
    document.querySelectorAll(".composer-issue-error").forEach((n) => n.remove());
    Object.entries(body.issue_errors || {}).forEach(([name, messages]) => {
      const field = document.getElementById("id_" + name) || document.getElementById("id_" + name + "_1");
      if (field) field.after(make("ul", { class: "errorlist composer-issue-error" }, ...messages.map((m) => make("li", { text: m }))));
    });
    (body.sections || []).forEach((entry) => {
      const li = list.querySelector(`[data-key="${entry.key}"]`);
      if (!li) return;
      li.dataset.id = entry.id || "";
      Object.entries(entry.errors).forEach(([name, messages]) => {
        const parts = name.split(".");
        if (parts[0] === "items") {
          errorList(li.querySelectorAll(".composer-item")[Number(parts[1])], messages);
        } else {
          const row = li.querySelector(`.composer-body > [data-field="${name}"]`) || li.querySelector(".composer-items");
          errorList(row, messages);
        }
      });
      li.classList.toggle("has-errors", Object.keys(entry.errors).length > 0);
    });
  }

  // --- the page around it ---------------------------------------------------------
  const META_IDS = ["id_authors", "id_tags", "id_publish_date_0", "id_publish_date_1"];
  function metaValue(node) {
    return node.multiple ? Array.from(node.selectedOptions, (o) => o.value).join(",") : node.value;
  }

  function hookIssueForm(form) {
    ISSUE_FIELDS.forEach((name) => {
      const node = document.getElementById("id_" + name);
      if (!node) return;
      node.addEventListener("input", changed);
      node.addEventListener("blur", () => saveSoon(0));
    });
    META_IDS.forEach((id) => {
      const node = document.getElementById(id);
      if (!node) return;
      // The calendar and select2 set values without typing: compare with the last value seen.
      let last = metaValue(node);
      const check = () => { if (metaValue(node) !== last) { last = metaValue(node); changed(); saveSoon(0); } };
      ["input", "change", "blur"].forEach((type) => node.addEventListener(type, check));
      if (window.django && window.django.jQuery) window.django.jQuery(node).on("change", check);
    });
    form.addEventListener("submit", async (event) => {
      if (leaving) return;
      // Save: the composer's pending changes first, then the form (one revision).
      if (dirty || saving) {
        event.preventDefault();
        const submitter = event.submitter;
        while (saving) await new Promise((r) => setTimeout(r, 100));
        if (dirty) await save();
        if (stopped) return;
        leaving = true;
        form.requestSubmit(submitter);
        return;
      }
      leaving = true;
    });
    window.addEventListener("beforeunload", (event) => {
      if (leaving || !(dirty || saving)) return;
      // Save now, whether the editor then stays or goes: once the page is leaving, a
      // save the timer would start could be cut off by the next page.
      if (dirty && !saving) save(true);
      event.preventDefault();
      event.returnValue = "";
    });
    window.addEventListener("pagehide", finalSave);
  }

  // The cover saves by itself too: once chosen (an upload of its own, multipart, with the
  // alt text typed so far, required with an image, through the same image rule as Save),
  // and when its "Clear" box is ticked (the cover is taken off at once).
  function hookCover() {
    const file = document.getElementById("id_cover_image"), alt = document.getElementById("id_cover_alt");
    if (!file || !alt) return;
    // The widget's "Currently: <link> [ ] Clear / Change:" part, drawn again after each save.
    const showCurrent = (url) => {
      const holder = file.closest("p.file-upload");
      if (holder) { while (holder.firstChild !== file) holder.firstChild.remove(); holder.replaceWith(...holder.childNodes); }
      if (!url) return;
      const clear = make("input", { type: "checkbox", name: "cover_image-clear", id: "cover_image-clear_id" });
      clear.addEventListener("change", () => clear.checked && post(true));
      const box = make("p", { class: "file-upload" }, "Currently: ", make("a", { href: url, text: decodeURIComponent(url.split("/").pop()) }), " ",
        make("span", { class: "clearable-file-input" }, clear, make("label", { for: "cover_image-clear_id", text: "Clear" })),
        make("br"), "Change: ");
      file.before(box);
      box.append(file);
    };
    const post = async (remove) => {
      if (stopped || (!remove && !file.files.length)) return;
      while (saving) await new Promise((r) => setTimeout(r, 100));
      saving = true;
      setStatus(remove ? "Removing the cover…" : "Saving the cover…");
      const form = new FormData();
      if (remove) form.append("remove", "1");
      else form.append("cover_image", file.files[0]);
      form.append("cover_alt", alt.value);
      form.append("version", state.version);
      let response, body = {};
      try {
        response = await fetch(state.cover_url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() }, body: form });
        body = await response.json().catch(() => ({}));
      } catch (error) {
        saving = false;
        return setStatus("The cover was not " + (remove ? "removed" : "saved") + ": the server could not be reached. Try again, or press Save.", "error");
      }
      saving = false;
      if (response.status === 409) return conflict(body.error);
      document.querySelectorAll(".composer-cover-error").forEach((n) => n.remove());
      if (!response.ok) return setStatus("The cover was not saved: " + (body.error || response.statusText), "error");
      Object.entries(body.issue_errors || {}).forEach(([name, messages]) => {
        const field = document.getElementById("id_" + name);
        field.after(make("ul", { class: "errorlist composer-cover-error" }, ...messages.map((m) => make("li", { text: m }))));
      });
      if (!body.ok) return setStatus("The cover was not saved: see the cover fields.", "error");
      state.version = body.version;
      const base = document.getElementById("id_base_version");
      if (base) base.value = body.version;
      if (!remove) confirmedIssue.cover_alt = JSON.stringify(alt.value);
      file.value = "";  // stored: Save need not send it again
      file.dataset.saved = body.cover_url;
      showCurrent(body.cover_url);
      setStatus((remove ? "Cover removed at " : "Cover saved at ") + body.saved_at, "ok");
      unrecorded = true;
    };
    file.addEventListener("change", () => post(false));
    // Refused for want of alt text: typing it sends the chosen image again.
    alt.addEventListener("change", () => post(false));
    const clear = document.getElementById("cover_image-clear_id");
    if (clear) clear.addEventListener("change", () => clear.checked && post(true));
  }

  // The editor is leaving (closing the tab, following a link): one last save that
  // outlives the page (fetch keepalive) and brings the session's revision up to
  // date. Save posts the form instead, which makes a revision of its own.
  function finalSave() {
    // A save under way (keepalive) still arrives; its version is not known here yet.
    if (leaving || stopped || saving || (!dirty && !unrecorded)) return;
    const body = { version: state.version, session, final: true, ...(dirty ? collect().body : {}) };
    dirty = unrecorded = false;
    try {
      fetch(state.url, {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(body),
      }).catch(() => {});
    } catch (error) { /* over keepalive's 64 kB: the last autosave stands */ }
  }

  // A template's page: Save posts the sections as JSON; leaving with changes asks first.
  function hookTemplateForm(form) {
    const shape = form.querySelector("input[name=shape]");
    form.addEventListener("input", (e) => { if (!list.contains(e.target)) changed(); });
    form.addEventListener("change", (e) => { if (!list.contains(e.target)) changed(); });
    form.addEventListener("submit", () => {
      shape.value = JSON.stringify({ sections: Array.from(list.children).map(sectionValues) });
      leaving = true;
    });
    window.addEventListener("beforeunload", (event) => {
      if (leaving || !dirty) return;
      event.preventDefault();
      event.returnValue = "";
    });
  }

  function start() {
    const source = document.getElementById("composer-state");
    if (!source) return;
    state = JSON.parse(source.textContent);
    templateMode = state.mode === "template";
    list = document.getElementById("composer-sections");
    statusEl = document.getElementById("composer-status");
    const refused = [];
    state.sections.forEach((data) => {
      const li = sectionEl(data);
      list.append(li);
      confirmed.set(li, JSON.stringify(sectionValues(li)));  // as stored: the editors are not up yet
      if (data.errors && Object.keys(data.errors).length) refused.push({ key: li.dataset.key, id: "", errors: data.errors });
    });
    // A template's refused save: each error at its field (``__all__`` above the section's items).
    if (refused.length) showErrors({ sections: refused });
    Object.entries(issueValues()).forEach(([name, value]) => { confirmedIssue[name] = JSON.stringify(value); });
    const top = insertBar();
    if (top) list.before(top);
    dragSetup(list);
    list.addEventListener("input", (e) => { if (e.target.tagName === "INPUT") changed(); });
    list.addEventListener("focusout", (e) => { if (e.target.tagName === "INPUT") saveSoon(0); });
    document.getElementById("composer-collapse-all").addEventListener("click", () =>
      list.querySelectorAll(".composer-section").forEach((li) => li.classList.add("collapsed")));
    document.getElementById("composer-expand-all").addEventListener("click", () =>
      list.querySelectorAll(".composer-section").forEach((li) => li.classList.remove("collapsed")));
    document.getElementById("composer-reload").addEventListener("click", () => { leaving = true; location.reload(); });
    if (templateMode) {
      const form = document.getElementById("issuetemplate_form");
      if (form && state.editable) hookTemplateForm(form);
      return;
    }
    const form = document.getElementById("issue_form");
    if (form && state.editable) { hookIssueForm(form); hookCover(); }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
