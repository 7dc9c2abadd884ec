// Fieldapp for weak signal: drafts, the outbox, signature pads. Plain JavaScript, loaded with defer after htmx (it
// fetches photos.js when a page shows a photo input); the CSP forbids inline script, so everything is wired up
// here from markup:
//
//   form[data-offline][data-draft-key="h12:members"]  autosaved to IndexedDB ("fieldapp" / "drafts", key
//       "<user id>:<draft key>") while typing, restored after a reload or crash (with a note and a discard button),
//       cleared when the server confirms the submission (2xx).
//   Submitting such a form puts the request in IndexedDB ("outbox") FIRST, then sends it (HX-Request: true,
//       X-CSRFToken, Idempotency-Key = the form's idem_key or a generated key kept with the item). A lost answer or a
//       timeout leaves the item "pending": it is retried with the SAME key (backoff, the `online` event, page load),
//       so the server records it once. 409 -> "conflict" (the server's fragment with the newer values is kept and
//       shown), 401 -> "login" (kept; sent after logging in again), 422 and other 4xx -> "error" (the returned form
//       fragment is shown so the entry can be corrected), 2xx -> "sent" (fragment swapped where the form was, or
//       HX-Redirect followed). Responses honour hx-target / hx-swap on the form and HX-Retarget / HX-Reswap headers.
//   canvas[data-signature="signature"] inside a form (or a canvas inside <div data-signature-pad="signature">,
//       whose [data-signature-clear] button is used): a signature pad; its PNG is sent as the file field named by
//       the attribute (replacing that field's file); a "clear" button is added when there is none.
//   input[data-device-time="start|end"]: the phone's local time when the form opens / is saved.
//   [data-geo] (fieldset) with inputs data-geo="lat|lng|accuracy" and [data-geo-status]: the phone's position.
//   [data-offline-flag] (hidden input): set to "1" when the form is submitted while the phone is offline.
//   #outbox (templates/_outbox.html): the badge ("2 waiting to send") and the panel listing every item's state;
//       its data-msgs attribute carries the translated UI strings.
//
// Requests go out with XMLHttpRequest (not fetch) for its upload progress events; the headers are the same.
//
// Events for pages: "fieldapp:sent" is dispatched on <body> when an item is confirmed (detail: {url, draftKey,
// kind}), so a list can refresh itself with hx-trigger="fieldapp:sent from:body".
(function () {
  "use strict";

  var FA = window.Fieldapp = window.Fieldapp || {};
  var DB_NAME = "fieldapp";
  var DB_VERSION = 1;
  var SAVE_DELAY_MS = 500;          // draft autosave debounce
  var IDLE_TIMEOUT_MS = 30000;      // a request with no progress for this long is abandoned (and retried later)
  var BACKOFF_BASE_MS = 3000;       // first retry after ~3 s, doubling up to BACKOFF_MAX_MS
  var BACKOFF_MAX_MS = 300000;
  var STALE_SENDING_MS = 2 * IDLE_TIMEOUT_MS;  // a "sending" item left behind by a closed page
  var KEEP_SENT_MS = 24 * 3600 * 1000;
  var TRANSIENT_409_LIMIT = 5;      // "still being processed" answers before an item counts as a conflict

  var DEFAULT_MSGS = {
    count: "{count} waiting to send",
    title: "Outbox",
    pending: "Waiting for signal",
    sending: "Sending",
    sent: "Sent",
    conflict: "Changed by someone else",
    login: "Log in again to send",
    error: "Needs correction",
    send_now: "Send now",
    remove: "Remove",
    confirm_remove: "Remove this entry from the phone? It has not reached the server.",
    open_form: "Open the form",
    log_in: "Log in again",
    logged_out: "You have been logged out. What you entered is kept on this phone and is sent after you log in again.",
    queued: "Saved on this phone. It will be sent when there is signal.",
    restored: "Unsent draft restored",
    discard: "Discard draft",
    conflict_note: "Someone else changed this record. Their values:",
    clear: "Clear signature",
    close: "Close",
    retry: "Try again",
    preparing: "Preparing photo",
    uploading: "Uploading",
    uploaded: "Uploaded",
    failed: "Not sent yet; will retry",
    photo: "Photo",
    geo_wait: "Finding the phone's location",
    geo_ok: "Location recorded (within {metres} m)",
    geo_weak: "The location is imprecise (within {metres} m). You can still save.",
    geo_none: "No location from the phone. You can still save."
  };

  // ------------------------------------------------------------------ small helpers

  var msgCache = null;
  function msg(key) {
    if (msgCache === null) {
      var box = document.getElementById("outbox");
      msgCache = {};
      if (box && box.getAttribute("data-msgs")) {
        try { msgCache = JSON.parse(box.getAttribute("data-msgs")) || {}; } catch (e) { msgCache = {}; }
      }
    }
    return msgCache[key] || DEFAULT_MSGS[key] || key;
  }

  function user() {
    return (document.body && document.body.getAttribute("data-user")) || "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID().replace(/-/g, ""); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function make(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { el.setAttribute(name, attrs[name]); });
    if (text != null) { el.textContent = text; }
    return el;
  }

  function csrfToken() {
    var holders = document.querySelectorAll("[hx-headers]");
    for (var i = 0; i < holders.length; i++) {
      try {
        var h = JSON.parse(holders[i].getAttribute("hx-headers"));
        if (h && h["X-CSRFToken"]) { return h["X-CSRFToken"]; }
      } catch (e) { /* not JSON: ignore */ }
    }
    var meta = document.querySelector("meta[name=csrf-token]");
    if (meta) { return meta.getAttribute("content"); }
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function pathOf(url) {
    try { return new URL(url, location.href).pathname; } catch (e) { return url; }
  }

  // ------------------------------------------------------------------ IndexedDB

  var dbState = "opening";  // opening | ok | failed
  var dbPromise = null;

  function openDb() {
    if (dbPromise) { return dbPromise; }
    dbPromise = new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("IndexedDB unavailable")); return; }
      var req;
      try { req = indexedDB.open(DB_NAME, DB_VERSION); } catch (e) { reject(e); return; }
      req.onupgradeneeded = function () {
        var db = req.result;
        if (!db.objectStoreNames.contains("drafts")) { db.createObjectStore("drafts", {keyPath: "key"}); }
        if (!db.objectStoreNames.contains("outbox")) { db.createObjectStore("outbox", {keyPath: "id"}); }
      };
      req.onsuccess = function () {
        var db = req.result;
        db.onversionchange = function () { db.close(); dbPromise = null; };
        resolve(db);
      };
      req.onerror = function () { reject(req.error); };
    });
    dbPromise.then(function () { dbState = "ok"; }, function () { dbState = "failed"; dbPromise = null; });
    return dbPromise;
  }

  function tx(store, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode);
        var req = work(t.objectStore(store));
        var result;
        if (req) { req.onsuccess = function () { result = req.result; }; }
        t.oncomplete = function () { resolve(result); };
        t.onerror = t.onabort = function () { reject(t.error || new Error("IndexedDB transaction failed")); };
      });
    });
  }

  function idbGet(store, key) { return tx(store, "readonly", function (s) { return s.get(key); }); }
  function idbPut(store, value) { return tx(store, "readwrite", function (s) { return s.put(value); }); }
  function idbDelete(store, key) { return tx(store, "readwrite", function (s) { return s.delete(key); }); }
  function idbAll(store) { return tx(store, "readonly", function (s) { return s.getAll(); }); }

  // ------------------------------------------------------------------ change notifications (this tab and others)

  var listeners = [];
  var channel = null;
  try { channel = new BroadcastChannel("fieldapp-outbox"); } catch (e) { channel = null; }

  function onChange(fn) { listeners.push(fn); }

  function emit(type, item, extra) {
    listeners.forEach(function (fn) {
      try { fn(type, item, extra); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }

  function changed(item) {
    emit("item", item);
    scheduleRender();
    if (channel && item) { channel.postMessage({id: item.id}); }
  }

  if (channel) {
    channel.onmessage = function (evt) {
      var id = evt.data && evt.data.id;
      if (!id) { return; }
      idbGet("outbox", id).then(function (item) {
        if (item) { emit("item", item); } else { emit("removed", {id: id}); }
        scheduleRender();
      });
    };
  }

  // ------------------------------------------------------------------ forms: fields in and out

  function skipControl(el) {
    var t = (el.type || "").toLowerCase();
    return !el.name || el.name === "csrf_token" || t === "file" || t === "submit" || t === "button" ||
      t === "reset" || t === "image" || t === "password";
  }

  // The form's state as [name, value] pairs (no files, passwords or CSRF token): what a draft keeps.
  function draftFields(form) {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (skipControl(el) || el.disabled) { return; }
      var t = (el.type || "").toLowerCase();
      if ((t === "checkbox" || t === "radio") && !el.checked) { return; }
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { if (o.selected) { out.push([el.name, o.value]); } });
        return;
      }
      out.push([el.name, el.value]);
    });
    return out;
  }

  function applyFields(form, fields) {
    var values = {};
    fields.forEach(function (pair) { (values[pair[0]] = values[pair[0]] || []).push(pair[1]); });
    var seen = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (skipControl(el)) { return; }
      var t = (el.type || "").toLowerCase();
      var vals = values[el.name];
      if (t === "checkbox" || t === "radio") { el.checked = !!vals && vals.indexOf(el.value) >= 0; return; }
      if (!vals) { return; }
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = vals.indexOf(o.value) >= 0; });
        return;
      }
      var i = seen[el.name] || 0;
      seen[el.name] = i + 1;
      if (i < vals.length) { el.value = vals[i]; }
    });
  }

  function sameFields(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function fieldValue(entries, name) {
    for (var i = 0; i < entries.length; i++) {
      if (entries[i][0] === name && typeof entries[i][1] === "string") { return entries[i][1]; }
    }
    return "";
  }

  function isCreateForm(form) { return !!(form.elements.idem_key && form.elements.idem_key.value !== undefined); }

  // What the submission sends: FormData of the form (with the submit button), files as Blobs, without the photo
  // inputs that upload on their own (photos.js), with the signature pads' PNGs.
  function collectEntries(form, submitter) {
    var fd;
    try { fd = submitter ? new FormData(form, submitter) : new FormData(form); } catch (e) {
      fd = new FormData(form);
      if (submitter && submitter.name) { fd.append(submitter.name, submitter.value); }
    }
    var photoNames = {};
    form.querySelectorAll("input[data-photo-upload]").forEach(function (el) {
      if (el.name) { photoNames[el.name] = true; }
    });
    var pads = Array.prototype.filter.call(form.querySelectorAll(PAD_SELECTOR), function (c) {
      return c._faPad && c._faPad.strokes > 0 && padVisible(c);
    });
    var padNames = {};
    pads.forEach(function (c) { padNames[padName(c)] = true; });
    var entries = [];
    fd.forEach(function (value, name) {
      if (padNames[name]) { return; }
      if (value instanceof Blob) {
        if (photoNames[name]) { return; }
        entries.push([name, {blob: value, filename: value.name || ""}]);
      } else {
        entries.push([name, value]);
      }
    });
    return Promise.all(pads.map(function (c) {
      return padBlob(c).then(function (blob) {
        if (blob) { entries.push([padName(c), {blob: blob, filename: "signature.png"}]); }
      });
    })).then(function () { return entries; });
  }

  function requestTarget(form, submitter) {
    var url = (submitter && submitter.getAttribute("formaction")) || null;
    var method = (submitter && submitter.getAttribute("formmethod")) || null;
    ["post", "put", "patch", "delete"].forEach(function (verb) {
      if (!url && form.getAttribute("hx-" + verb)) { url = form.getAttribute("hx-" + verb); method = verb; }
    });
    url = url || form.getAttribute("action") || location.href;
    method = (method || form.getAttribute("method") || "get").toUpperCase();
    return {url: new URL(url, location.href).href, method: method};
  }

  // What the outbox calls an entry: data-outbox-label, else the page title (without the site name) and the
  // heading just above the form ("Head and members · 张三 · Add a member").
  function pageLabel() {
    var parts = document.title.split(" · ");
    if (parts.length > 1) { parts.pop(); }
    return parts.join(" · ").trim();
  }

  function headingAbove(el) {
    for (var node = el; node && node.id !== "main" && node !== document.body; node = node.parentElement) {
      for (var sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (/^H[2-4]$/.test(sib.tagName)) { return sib.textContent.replace(/\s+/g, " ").trim(); }
      }
    }
    return "";
  }

  function labelFor(form) {
    if (form.getAttribute("data-outbox-label")) { return form.getAttribute("data-outbox-label"); }
    var parts = [pageLabel()];
    var heading = headingAbove(form);
    if (heading && parts[0].indexOf(heading) < 0) { parts.push(heading); }
    return parts.filter(Boolean).join(" · ");
  }

  // ------------------------------------------------------------------ swapping responses into the page

  function resolveTarget(form, spec) {
    if (!spec) { return null; }
    spec = spec.trim();
    if (spec === "this") { return form; }
    if (spec.indexOf("closest ") === 0) { return form.closest(spec.slice(8)); }
    if (spec.indexOf("find ") === 0) { return form.querySelector(spec.slice(5)); }
    if (spec === "next") { return form.nextElementSibling; }
    if (spec === "previous") { return form.previousElementSibling; }
    try { return document.querySelector(spec); } catch (e) { return null; }
  }

  function swapSpecFor(form, res) {
    var holder = form.closest("[hx-target]");
    var target = null;
    if (res && res.retarget) { target = resolveTarget(form, res.retarget); } else if (holder) {
      var spec = holder.getAttribute("hx-target");
      target = spec === "this" ? holder : resolveTarget(form, spec);
    }
    var swapHolder = form.closest("[hx-swap]");
    var style = (res && res.reswap) || (swapHolder && swapHolder.getAttribute("hx-swap")) || "outerHTML";
    style = style.trim().split(/\s+/)[0];
    return {target: target || form, style: style};
  }

  // Puts `html` at `target` like htmx would (htmx processes the new content); returns the new top elements.
  function swapInto(target, html, style) {
    style = style || "outerHTML";
    if (style === "none") { return []; }
    var parent = target.parentNode;
    var before = parent ? Array.prototype.slice.call(parent.children) : [];
    if (window.htmx && typeof htmx.swap === "function") {
      htmx.swap(target, html, {swapStyle: style, swapDelay: 0, settleDelay: 20});
    } else if (style === "outerHTML") {
      target.outerHTML = html;
    } else if (style === "innerHTML") {
      target.innerHTML = html;
    } else if (style === "delete") {
      target.remove();
    } else {
      target.insertAdjacentHTML(style, html);
    }
    var created;
    if (style === "innerHTML" || style === "afterbegin" || style === "beforeend") {
      created = Array.prototype.slice.call(target.children);
    } else {
      created = parent ? Array.prototype.filter.call(parent.children, function (el) {
        return before.indexOf(el) < 0;
      }) : [];
    }
    created.forEach(function (el) {
      markSwapped(el);
      if (!window.htmx) { scan(el); }
    });
    return created;
  }

  function markSwapped(root) {
    var forms = root.matches && root.matches("form") ? [root] : [];
    Array.prototype.push.apply(forms, root.querySelectorAll ? root.querySelectorAll("form") : []);
    forms.forEach(function (f) { f._faSwapped = true; });
  }

  function parseFragment(html) {
    return new DOMParser().parseFromString("<!doctype html><body>" + (html || "") + "</body>", "text/html");
  }

  // A read-only copy of the interesting part of a server fragment (conflict banner, error messages) for the panel.
  function excerpt(html) {
    var doc = parseFragment(html);
    var box = document.createElement("div");
    box.className = "outbox-fragment";
    var parts = doc.body.querySelectorAll(".banner, [role=alert], .has-error, .error-page, dl.conflict");
    var picked = [];
    Array.prototype.forEach.call(parts, function (el) {
      if (!picked.some(function (p) { return p.contains(el); })) { picked.push(el); }
    });
    if (!picked.length) { picked = Array.prototype.slice.call(doc.body.children); }
    picked.forEach(function (el) { box.appendChild(document.importNode(el, true)); });
    box.querySelectorAll("[id]").forEach(function (el) { el.removeAttribute("id"); });
    box.querySelectorAll("[role=alert]").forEach(function (el) { el.removeAttribute("role"); });
    box.querySelectorAll("label[for]").forEach(function (el) { el.removeAttribute("for"); });
    box.querySelectorAll("[aria-describedby]").forEach(function (el) { el.removeAttribute("aria-describedby"); });
    // controls become plain text (what was entered), so the copy holds nothing to fill in or submit
    box.querySelectorAll("input, select, textarea, button").forEach(function (el) {
      var t = (el.type || "").toLowerCase();
      var text = "";
      if (el.tagName === "SELECT") {
        text = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.textContent; }).join(", ");
      } else if (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && ["hidden", "file", "password", "checkbox",
          "radio", "submit", "button", "reset", "image"].indexOf(t) < 0)) {
        text = el.value;
      }
      if (text) {
        el.replaceWith(make("span", {"class": "outbox-value"}, text));
      } else {
        el.remove();
      }
    });
    box.querySelectorAll("form").forEach(function (f) {
      f.removeAttribute("data-offline");
      f.removeAttribute("data-draft-key");
      f.removeAttribute("action");
    });
    box.querySelectorAll("[hx-get], [hx-post], [hx-trigger]").forEach(function (el) {
      ["hx-get", "hx-post", "hx-trigger", "hx-target", "hx-swap"].forEach(function (a) { el.removeAttribute(a); });
    });
    box.inert = true;
    return box;
  }

  // ------------------------------------------------------------------ notes shown in forms and pages

  function setNote(form, kind, build) {
    var old = form.querySelector(":scope > .outbox-note");
    if (old) { old.remove(); }
    if (!build) { return null; }
    var box = make("div", {"class": "banner warn outbox-note", "role": "status", "data-note": kind});
    build(box);
    form.insertBefore(box, form.firstChild);
    return box;
  }

  function loginUrl(item) {
    var box = document.getElementById("outbox");
    var base = (box && box.getAttribute("data-login-url")) || (item && item.loginUrl) || "/login";
    base = base.split("?")[0];
    var next = (item && item.page) || (location.pathname + location.search);
    return base + "?next=" + encodeURIComponent(next);
  }

  function showLoginBanner(item) {
    var main = document.getElementById("main") || document.body;
    var box = document.getElementById("outbox-login");
    if (!box) {
      box = make("div", {"id": "outbox-login", "class": "banner warn", "role": "alert"});
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = "";
    box.appendChild(make("p", {}, msg("logged_out")));
    box.appendChild(make("a", {"class": "button", "href": loginUrl(item), "hx-boost": "false"}, msg("log_in")));
  }

  // ------------------------------------------------------------------ drafts

  var originals = new WeakMap();  // form -> its server-rendered fields, for "discard draft"

  function draftId(form) {
    var key = form.getAttribute("data-draft-key");
    var who = user();
    return key && who ? who + ":" + key : null;
  }

  function saveDraft(form, extra) {
    var id = draftId(form);
    if (!id || dbState === "failed") { return Promise.resolve(); }
    clearTimeout(form._faTimer);
    form._faTimer = null;
    var record = {
      key: id, user: user(), draftKey: form.getAttribute("data-draft-key"), page: location.pathname + location.search,
      action: requestTarget(form, null).url, fields: draftFields(form), saved: Date.now()
    };
    var pads = form.querySelectorAll(PAD_SELECTOR);
    return Promise.all(Array.prototype.map.call(pads, function (c) {
      if (!c._faPad || !c._faPad.strokes) { return null; }
      return padBlob(c).then(function (blob) { return {name: padName(c), blob: blob}; });
    })).then(function (sigs) {
      record.signatures = sigs.filter(Boolean);
      Object.keys(extra || {}).forEach(function (k) { record[k] = extra[k]; });
      return idbPut("drafts", record);
    }).catch(function () { /* storage full or unavailable: the form still works */ });
  }

  function scheduleSave(form) {
    if (!draftId(form)) { return; }
    clearTimeout(form._faTimer);
    form._faTimer = setTimeout(function () { saveDraft(form); }, SAVE_DELAY_MS);
  }

  function flushDrafts() {
    document.querySelectorAll("form[data-offline][data-draft-key]").forEach(function (form) {
      if (form._faTimer) { saveDraft(form); }
    });
  }

  function deleteDraft(userId, draftKey) {
    if (!userId || !draftKey) { return Promise.resolve(); }
    return idbDelete("drafts", userId + ":" + draftKey).catch(function () {});
  }

  // The server answered a submission with the form again (409 / 422): that form (the user's input, the newer
  // version) becomes the draft, so reopening the page brings it back.
  function draftFromFragment(item, html) {
    if (!item.draftKey || !item.user) { return Promise.resolve(); }
    var doc = parseFragment(html);
    var form = doc.querySelector('form[data-draft-key="' + CSS.escape(item.draftKey) + '"]') ||
      doc.querySelector("form");
    if (!form) { return Promise.resolve(); }
    return idbPut("drafts", {
      key: item.user + ":" + item.draftKey, user: item.user, draftKey: item.draftKey, page: item.page,
      action: item.url, fields: draftFields(form), saved: Date.now(), fromServer: item.status
    }).catch(function () {});
  }

  function restoreDraft(form) {
    var id = draftId(form);
    if (!id) { return; }
    originals.set(form, draftFields(form));
    Promise.all([idbGet("drafts", id), items()]).then(function (got) {
      var draft = got[0];
      if (!draft || form._faSwapped || !form.isConnected || form._faEdits) { return; }
      if (pathOf(draft.action) !== pathOf(requestTarget(form, null).url)) { return; }
      var hasSig = draft.signatures && draft.signatures.length;
      if (sameFields(draftFields(form), draft.fields) && !hasSig) { return; }
      applyFields(form, draft.fields);
      (draft.signatures || []).forEach(function (sig) {
        var canvas = Array.prototype.filter.call(form.querySelectorAll(PAD_SELECTOR), function (c) {
          return padName(c) === sig.name;
        })[0];
        if (canvas && sig.blob) { padLoad(canvas, sig.blob); }
      });
      var conflict = got[1].filter(function (it) {
        return it.draftKey === draft.draftKey && it.state === "conflict" && it.fragment;
      }).pop();
      showDraftNote(form, conflict);
    }).catch(function () {});
  }

  function showDraftNote(form, conflict) {
    var old = form.querySelector(":scope > .draft-note");
    if (old) { old.remove(); }
    var box = make("div", {"class": "banner warn draft-note", "role": "status"});
    box.appendChild(make("p", {}, msg("restored")));
    if (conflict) {
      box.appendChild(make("p", {}, msg("conflict_note")));
      box.appendChild(excerpt(conflict.fragment));
    }
    var discard = make("button", {"type": "button", "class": "secondary"}, msg("discard"));
    discard.addEventListener("click", function () {
      var original = originals.get(form);
      if (original) { applyFields(form, original); }
      form.querySelectorAll(PAD_SELECTOR).forEach(padClear);
      deleteDraft(user(), form.getAttribute("data-draft-key"));
      form._faEdits = 0;
      box.remove();
    });
    box.appendChild(discard);
    form.insertBefore(box, form.firstChild);
  }

  // ------------------------------------------------------------------ the outbox

  var inflight = {};     // item id -> promise of the running attempt (this tab)
  var live = {};         // item id -> {form, edits}: a submission made on this page, answered into its form
  var pumpTimer = null;
  var pumping = false;
  var loginBlocked = false;

  function items() {
    if (dbState === "failed") { return Promise.resolve([]); }
    var who = user();
    return idbAll("outbox").then(function (all) {
      return (all || []).filter(function (it) { return it.user === who; })
        .sort(function (a, b) { return a.created - b.created; });
    }).catch(function () { return []; });
  }

  function putItem(item) {
    item.updated = Date.now();
    return idbPut("outbox", item).then(function () { changed(item); return item; });
  }

  function removeItem(id) {
    return idbDelete("outbox", id).then(function () {
      emit("removed", {id: id});
      scheduleRender();
      if (channel) { channel.postMessage({id: id}); }
    });
  }

  // A new submission replaces what it makes obsolete: earlier conflicts and errors of the same form, and (for edit
  // forms, which carry no one-time key) an earlier unsent edit of the same form.
  function supersede(item) {
    if (!item.draftKey || item.kind !== "form") { return Promise.resolve(); }
    return items().then(function (all) {
      return Promise.all(all.filter(function (old) {
        if (old.id === item.id || old.draftKey !== item.draftKey || pathOf(old.url) !== pathOf(item.url)) {
          return false;
        }
        if (old.state === "conflict" || old.state === "error") { return true; }
        return !item.create && !old.create && (old.state === "pending" || old.state === "login") && !inflight[old.id];
      }).map(function (old) { return removeItem(old.id); }));
    });
  }

  function enqueue(item) {
    var now = Date.now();
    item.user = item.user || user();
    item.method = item.method || "POST";
    item.state = item.state || "pending";
    item.attempts = item.attempts || 0;
    item.created = item.created || now;
    item.nextAt = now;
    item.page = item.page || (location.pathname + location.search);
    if (navigator.storage && navigator.storage.persist && !FA._persistAsked) {
      FA._persistAsked = true;
      navigator.storage.persist().catch(function () {});
    }
    return supersede(item).then(function () { return putItem(item); });
  }

  function bodyOf(item) {
    var token = csrfToken();
    var hasBlob = item.entries.some(function (e) { return e[1] && typeof e[1] === "object"; });
    var body = hasBlob ? new FormData() : new URLSearchParams();
    item.entries.forEach(function (e) {
      var name = e[0], value = e[1];
      if (name === "csrf_token" && token) { value = token; }
      if (value && typeof value === "object") {
        body.append(name, value.blob, value.filename || "blob");
      } else {
        body.append(name, value == null ? "" : value);
      }
    });
    return body;
  }

  // One HTTP attempt. Resolves with the answer (any status); rejects on a network error or when nothing moved
  // for IDLE_TIMEOUT_MS.
  function send(item) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var idle = null;
      function arm() {
        clearTimeout(idle);
        idle = setTimeout(function () { xhr.abort(); }, IDLE_TIMEOUT_MS);
      }
      xhr.open(item.method, item.url, true);
      xhr.setRequestHeader("HX-Request", "true");
      xhr.setRequestHeader("HX-Current-URL", location.href);
      xhr.setRequestHeader("Idempotency-Key", item.id);
      var token = csrfToken();
      if (token) { xhr.setRequestHeader("X-CSRFToken", token); }
      xhr.upload.onprogress = function (e) {
        arm();
        emit("progress", item, {loaded: e.loaded, total: e.lengthComputable ? e.total : 0});
      };
      xhr.onprogress = arm;
      xhr.onload = function () {
        clearTimeout(idle);
        // A plain redirect (followed by XHR) means a full page came back: go there instead of swapping it in.
        var text = xhr.responseText || "";
        var fullPage = /^\s*(<!doctype|<html)/i.test(text.slice(0, 200));
        var redirected = null;
        if (xhr.responseURL && pathOf(xhr.responseURL) !== pathOf(item.url)) {
          redirected = xhr.responseURL;
        } else if (fullPage && xhr.status < 300) {
          redirected = xhr.responseURL || item.url;
        }
        resolve({
          status: xhr.status, text: fullPage && xhr.status < 300 ? "" : text,
          redirect: xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Location") || redirected,
          refresh: xhr.getResponseHeader("HX-Refresh") === "true",
          retarget: xhr.getResponseHeader("HX-Retarget"), reswap: xhr.getResponseHeader("HX-Reswap"),
          retryAfter: xhr.getResponseHeader("Retry-After")
        });
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
        clearTimeout(idle);
        reject(new Error("network"));
      };
      arm();
      try { xhr.send(bodyOf(item)); } catch (e) { clearTimeout(idle); reject(e); }
    });
  }

  function backoff(attempts) {
    var delay = Math.min(BACKOFF_BASE_MS * Math.pow(2, Math.max(0, attempts - 1)), BACKOFF_MAX_MS);
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  function attempt(item) {
    if (inflight[item.id]) { return inflight[item.id]; }
    item.state = "sending";
    var run = putItem(item)
      .then(function () { return send(item); })
      .then(function (res) { return answered(item, res); }, function () { return failed(item, "network"); })
      .then(function () { delete inflight[item.id]; return item; },
            function (err) { delete inflight[item.id]; throw err; });
    inflight[item.id] = run;
    return run;
  }

  function liveForm(item) {
    var ref = live[item.id];
    if (!ref || !ref.form.isConnected || (ref.form._faEdits || 0) !== ref.edits) { return null; }
    return ref.form;
  }

  // No answer (or a server that cannot answer now): keep the item and try again later with the same key.
  function failed(item, reason) {
    item.state = "pending";
    item.failure = reason || "network";
    item.attempts += 1;
    item.nextAt = Date.now() + backoff(item.attempts);
    return putItem(item).then(function () {
      schedulePump();
      var form = liveForm(item);
      if (!form) { return; }
      delete live[item.id];
      if (item.create) {
        // The entry is safe in the outbox: clear the form for the next one, with a fresh one-time key, so a
        // second tap cannot record it twice.
        form.reset();
        form.querySelectorAll(PAD_SELECTOR).forEach(padClear);
        if (form.elements.idem_key) { form.elements.idem_key.value = newKey(); }
        deleteDraft(item.user, item.draftKey);
        form._faEdits = 0;
      }
      setNote(form, "queued", function (box) { box.appendChild(make("p", {}, msg("queued"))); });
    });
  }

  function answered(item, res) {
    var s = res.status;
    item.status = s;
    if (s >= 200 && s < 300) { return confirmed(item, res); }
    if (s === 401) {
      item.state = "login";
      item.loginUrl = res.redirect || null;
      loginBlocked = true;
      return putItem(item).then(function () {
        showLoginBanner(item);
        var form = liveForm(item);
        if (form) {
          setNote(form, "login", function (box) {
            box.appendChild(make("p", {}, msg("logged_out")));
            box.appendChild(make("a", {"class": "button", "href": loginUrl(item), "hx-boost": "false"}, msg("log_in")));
          });
        }
      });
    }
    var transient409 = s === 409 && (res.retryAfter || res.text.indexOf("<form") < 0) &&
      (item.transient409 || 0) < TRANSIENT_409_LIMIT;
    if (s === 429 || s >= 500 || transient409) {
      if (transient409) { item.transient409 = (item.transient409 || 0) + 1; }
      return failed(item, "server");
    }
    // 409 conflict, 422 and every other refusal: the server's fragment says what to do; the item waits for the user.
    item.state = s === 409 ? "conflict" : "error";
    item.fragment = res.text;
    var form = liveForm(item);
    return putItem(item).then(function () {
      if (s === 409 || s === 422) { return draftFromFragment(item, res.text); }
    }).then(function () {
      if (!form) { return; }
      delete live[item.id];
      if ((s === 409 || s === 422) && res.text.indexOf("<form") >= 0) {
        var spec = swapSpecFor(form, res);  // where htmx would put it: the form, or its hx-target
        var created = swapInto(spec.target, res.text, spec.style);
        created.forEach(function (el) {
          var f = el.matches("form[data-offline]") ? el : el.querySelector("form[data-offline]");
          if (f) { f._faEdits = 0; }
        });
      } else {
        setNote(form, "error", function (box) { box.appendChild(excerpt(res.text)); });
      }
    });
  }

  function confirmed(item, res) {
    var form = liveForm(item);
    delete live[item.id];
    item.state = "sent";
    item.redirect = res.redirect || null;
    item.entries = [];        // the data reached the server: keep no copy on the phone
    item.fragment = null;
    emit("answer", item, res);
    return putItem(item).then(function () {
      return idbGet("drafts", item.user + ":" + item.draftKey).catch(function () { return null; });
    }).then(function (draft) {
      // The draft goes when what it holds was confirmed: it was saved at submission and not edited since.
      if (draft && draft.submitted === item.id) { return deleteDraft(item.user, item.draftKey); }
    }).then(function () {
      return items().then(function (all) {
        return Promise.all(all.filter(function (old) {
          return old.id !== item.id && old.draftKey && old.draftKey === item.draftKey &&
            (old.state === "conflict" || old.state === "error") && pathOf(old.url) === pathOf(item.url);
        }).map(function (old) { return removeItem(old.id); }));
      });
    }).then(function () {
      if (document.body) {
        document.body.dispatchEvent(new CustomEvent("fieldapp:sent", {
          bubbles: true, detail: {url: item.url, draftKey: item.draftKey || null, kind: item.kind, status: item.status}
        }));
      }
      if (!form) { form = untouchedFormFor(item); }
      if (!form || item.kind !== "form") { return; }
      if (res.refresh) { location.reload(); return; }
      if (res.redirect) { location.assign(res.redirect); return; }
      if (res.text && res.text.trim()) {
        var spec = swapSpecFor(form, res);
        swapInto(spec.target, res.text, spec.style);
      } else {
        setNote(form, "sent", null);
      }
    });
  }

  // After a reload, a submission confirmed in the background is shown in the same form if nobody touched it.
  function untouchedFormFor(item) {
    if (!item.draftKey) { return null; }
    var forms = document.querySelectorAll('form[data-offline][data-draft-key="' + CSS.escape(item.draftKey) + '"]');
    for (var i = 0; i < forms.length; i++) {
      var f = forms[i];
      if (!f._faEdits && pathOf(requestTarget(f, null).url) === pathOf(item.url)) { return f; }
    }
    return null;
  }

  function due(item, now, force) {
    if (inflight[item.id]) { return false; }
    if (item.state === "pending") { return force || (item.nextAt || 0) <= now; }
    if (item.state === "login") { return !loginBlocked; }
    if (item.state === "sending") { return now - (item.updated || 0) > STALE_SENDING_MS || force === "load"; }
    return false;
  }

  // Sends what is due, one item at a time (one bar of signal), oldest first; stops at the first network failure.
  function pump(force) {
    if (pumping || !user() || dbState === "failed") { return Promise.resolve(); }
    pumping = true;
    clearTimeout(pumpTimer);
    pumpTimer = null;
    return items().then(function (all) {
      var now = Date.now();
      var queue = all.filter(function (it) { return due(it, now, force); });
      function next() {
        var item = queue.shift();
        if (!item) { return null; }
        return attempt(item).then(function (done) {
          // no signal, or logged out: the rest would fare no better; wait for the backoff, `online` or a login
          if (done.state === "pending" && done.failure === "network") { return null; }
          if (done.state === "login") { return null; }
          return next();
        });
      }
      return next();
    }).catch(function () {}).then(function () {
      pumping = false;
      schedulePump();
    });
  }

  function schedulePump() {
    items().then(function (all) {
      var waiting = all.filter(function (it) { return it.state === "pending" && !inflight[it.id]; });
      if (!waiting.length) { return; }
      var soonest = Math.min.apply(null, waiting.map(function (it) { return it.nextAt || 0; }));
      clearTimeout(pumpTimer);
      pumpTimer = setTimeout(function () { pump(); }, Math.max(250, soonest - Date.now()));
    });
  }

  function retryNow(id) {
    return idbGet("outbox", id).then(function (item) {
      if (!item || item.state === "sent" || inflight[id]) { return item; }
      loginBlocked = false;
      item.nextAt = Date.now();
      return attempt(item);
    });
  }

  // ------------------------------------------------------------------ submitting a form through the outbox

  function wantsOutbox(form, submitter) {
    if (!(form instanceof HTMLFormElement) || form._faBypass || form._faPhotoOnly) { return false; }
    if (!form.hasAttribute("data-offline") && !form.querySelector(PAD_SELECTOR)) { return false; }
    return requestTarget(form, submitter).method !== "GET";
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!wantsOutbox(form, evt.submitter) || dbState === "failed" || !user()) { return; }
    evt.preventDefault();
    evt.stopImmediatePropagation();
    submitForm(form, evt.submitter || null);
  }, true);

  function submitForm(form, submitter) {
    if (form._faBusy) { return; }
    form._faBusy = true;
    var button = submitter || form.querySelector("button[type=submit], button:not([type])");
    var target = requestTarget(form, submitter);
    var item;
    var stored = false;
    clearTimeout(form._faTimer);
    stampEndTime(form);
    if (!navigator.onLine) {
      form.querySelectorAll("[data-offline-flag]").forEach(function (el) { el.value = "1"; });
    }
    var collected = collectEntries(form, submitter);  // reads the form now, before the button is disabled
    if (button) { button.disabled = true; }
    collected.then(function (entries) {
      var idem = fieldValue(entries, "idem_key");
      item = {
        id: idem || newKey(), kind: "form", create: !!idem, url: target.url, method: target.method, entries: entries,
        draftKey: form.getAttribute("data-draft-key") || null, label: labelFor(form)
      };
      live[item.id] = {form: form, edits: form._faEdits || 0};
      return enqueue(item);
    }).then(function () {
      stored = true;
      return saveDraft(form, {submitted: item.id});
    }).then(function () {
      setNote(form, "sending", null);
      return attempt(item);
    }).catch(function (err) {
      if (stored) { setTimeout(function () { throw err; }); return; }  // in the outbox: it is retried from there
      // The phone could not store the entry: send the form the ordinary way instead.
      if (item) { delete live[item.id]; }
      form._faBypass = true;
      if (button) { button.disabled = false; }
      if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
    }).then(function () {
      form._faBusy = false;
      form._faBypass = false;
      if (button && button.isConnected) { button.disabled = false; }
    });
  }

  // ------------------------------------------------------------------ the outbox badge and panel

  var renderTimer = null;
  function scheduleRender() {
    if (renderTimer) { return; }
    renderTimer = setTimeout(function () { renderTimer = null; renderOutbox(); }, 30);
  }

  function initOutbox(box) {
    msgCache = null;
    var badge = box.querySelector(".outbox-badge");
    var panel = box.querySelector(".outbox-panel");
    if (badge && panel) {
      badge.addEventListener("click", function () {
        renderOutbox().then(function () {
          if (typeof panel.showModal === "function") { panel.showModal(); } else { panel.hidden = false; }
          badge.setAttribute("aria-expanded", "true");
        });
      });
      panel.addEventListener("close", function () { badge.setAttribute("aria-expanded", "false"); });
      var close = panel.querySelector(".outbox-close");
      if (close) {
        close.addEventListener("click", function () {
          if (typeof panel.close === "function") { panel.close(); } else { panel.hidden = true; }
        });
      }
      panel.addEventListener("click", function (evt) {
        var button = evt.target.closest("button[data-action]");
        if (!button) { return; }
        var li = button.closest("[data-id]");
        var id = li && li.getAttribute("data-id");
        if (!id) { return; }
        if (button.getAttribute("data-action") === "send") { retryNow(id); }
        if (button.getAttribute("data-action") === "remove") {
          idbGet("outbox", id).then(function (it) {
            if (it && it.state !== "sent" && !window.confirm(msg("confirm_remove"))) { return; }
            removeItem(id);
          });
        }
      });
    }
    renderOutbox();
  }

  function renderOutbox() {
    var box = document.getElementById("outbox");
    if (!box) { return Promise.resolve(); }
    return items().then(function (all) {
      var unsent = all.filter(function (it) { return it.state !== "sent"; });
      var attention = unsent.some(function (it) {
        return it.state === "conflict" || it.state === "error" || it.state === "login";
      });
      box.hidden = unsent.length === 0;
      box.setAttribute("data-count", String(unsent.length));
      var count = box.querySelector(".outbox-count");
      if (count) { count.textContent = msg("count").replace("{count}", String(unsent.length)); }
      var badge = box.querySelector(".outbox-badge");
      if (badge) { badge.classList.toggle("attention", attention); }
      var list = box.querySelector(".outbox-items");
      if (!list) { return; }
      list.textContent = "";
      all.slice().reverse().forEach(function (it) { list.appendChild(itemRow(it)); });
    });
  }

  function itemRow(it) {
    var li = make("li", {"class": "outbox-item", "data-id": it.id, "data-state": it.state,
                         "data-kind": it.kind || "form"});
    var head = make("p");
    head.appendChild(make("strong", {}, it.label || it.url));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(make("span", {"class": it.state === "sent" ? "tag" : "tag off", "data-state": it.state},
                          msg(it.state)));
    li.appendChild(head);
    var when = new Date(it.created);
    li.appendChild(make("p", {"class": "muted"}, when.toLocaleString()));
    if ((it.state === "conflict" || it.state === "error") && it.fragment) {
      li.appendChild(excerpt(it.fragment));
      li.appendChild(make("a", {"class": "button", "href": it.page || "/"}, msg("open_form")));
    }
    if (it.state === "login") {
      li.appendChild(make("a", {"class": "button", "href": loginUrl(it), "hx-boost": "false"}, msg("log_in")));
    }
    if (it.state === "pending" || it.state === "login") {
      li.appendChild(make("button", {"type": "button", "class": "secondary", "data-action": "send"}, msg("send_now")));
    }
    if (it.state !== "sending") {
      li.appendChild(make("button", {"type": "button", "class": "secondary", "data-action": "remove"}, msg("remove")));
    }
    return li;
  }

  function pruneSent() {
    return items().then(function (all) {
      var old = Date.now() - KEEP_SENT_MS;
      return Promise.all(all.filter(function (it) { return it.state === "sent" && it.updated < old; })
        .map(function (it) { return idbDelete("outbox", it.id); }));
    }).catch(function () {});
  }

  // ------------------------------------------------------------------ signature pads

  function initPad(canvas) {
    var pad = canvas._faPad = {strokes: 0, drawing: false};
    canvas.style.touchAction = "none";  // CSSOM, allowed by the CSP: the finger draws instead of scrolling
    fitPad(canvas);
    var rect = canvas.getBoundingClientRect();
    if (rect.width > 0 && !canvas.hasAttribute("width")) {
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(rect.width * ratio);
      canvas.height = Math.round((rect.height || rect.width / 3) * ratio);
    }
    padClear(canvas);
    var ctx = canvas.getContext("2d");
    function point(evt) {
      var r = canvas.getBoundingClientRect();
      return {x: (evt.clientX - r.left) * canvas.width / r.width, y: (evt.clientY - r.top) * canvas.height / r.height};
    }
    canvas.addEventListener("pointerdown", function (evt) {
      if (evt.button !== undefined && evt.button > 0) { return; }
      evt.preventDefault();
      try { canvas.setPointerCapture(evt.pointerId); } catch (e) { /* synthetic events */ }
      var p = point(evt);
      var r = canvas.getBoundingClientRect();
      pad.drawing = true;
      ctx.lineWidth = Math.max(2, 3 * canvas.width / (r.width || canvas.width));
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + 0.1, p.y + 0.1);
      ctx.stroke();
    });
    canvas.addEventListener("pointermove", function (evt) {
      if (!pad.drawing) { return; }
      evt.preventDefault();
      var events = evt.getCoalescedEvents ? evt.getCoalescedEvents() : [evt];
      (events.length ? events : [evt]).forEach(function (e) {
        var p = point(e);
        ctx.lineTo(p.x, p.y);
      });
      ctx.stroke();
    });
    function end() {
      if (!pad.drawing) { return; }
      pad.drawing = false;
      pad.strokes += 1;
      canvas.setAttribute("data-signed", "true");
      var form = canvas.closest("form");
      if (form) {
        form._faEdits = (form._faEdits || 0) + 1;
        scheduleSave(form);
        canvas.dispatchEvent(new Event("change", {bubbles: true}));
      }
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    var holder = canvas.closest("[data-signature-pad]");
    var clear = holder && holder.querySelector("[data-signature-clear]");
    if (!clear) {
      clear = make("button", {"type": "button", "class": "secondary signature-clear"}, msg("clear"));
      canvas.insertAdjacentElement("afterend", clear);
    }
    clear.addEventListener("click", function () {
      padClear(canvas);
      var form = canvas.closest("form");
      if (form) { form._faEdits = (form._faEdits || 0) + 1; scheduleSave(form); }
    });
  }

  // <canvas data-signature="name">, or a canvas inside <div data-signature-pad="name" hidden> (shown by this script;
  // when the form has radio buttons named "method", only while "signature" is chosen).
  var PAD_SELECTOR = "canvas[data-signature], [data-signature-pad] canvas";

  function padName(canvas) {
    if (canvas.hasAttribute("data-signature")) { return canvas.getAttribute("data-signature"); }
    var holder = canvas.closest("[data-signature-pad]");
    return holder ? holder.getAttribute("data-signature-pad") : "signature";
  }

  function padVisible(canvas) {
    return !canvas.closest("[hidden]") && canvas.getClientRects().length > 0;
  }

  function initPadHolder(holder) {
    var form = holder.closest("form");
    var methods = form ? form.querySelectorAll("input[type=radio][name=method]") : [];
    function sync() {
      if (!methods.length) { holder.hidden = false; return; }
      var chosen = Array.prototype.filter.call(methods, function (r) { return r.checked; })[0];
      holder.hidden = !chosen || chosen.value !== "signature";
      var canvas = holder.querySelector("canvas");
      if (!holder.hidden && canvas) { fitPad(canvas); }
    }
    Array.prototype.forEach.call(methods, function (r) { r.addEventListener("change", sync); });
    holder._faSync = sync;
    sync();
  }


  // Wider than the screen (no CSS sizes it): scale it down to fit; drawing maps through the displayed size.
  function fitPad(canvas) {
    var room = canvas.parentElement ? canvas.parentElement.clientWidth : 0;
    if (room && canvas.getBoundingClientRect().width > room) {
      canvas.style.maxWidth = "100%";
      canvas.style.height = "auto";
    }
  }

  function padClear(canvas) {
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";  // opaque: a JPEG re-encode on the server must not turn the background black
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (canvas._faPad) { canvas._faPad.strokes = 0; }
    canvas.removeAttribute("data-signed");
  }

  function padBlob(canvas) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); });
  }

  function padLoad(canvas, blob) {
    createImageBitmap(blob).then(function (bmp) {
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      if (bmp.close) { bmp.close(); }
      if (canvas._faPad) { canvas._faPad.strokes = Math.max(1, canvas._faPad.strokes); }
      canvas.setAttribute("data-signed", "true");
    }).catch(function () {});
  }

  // ------------------------------------------------------------------ the phone's clock and position (visit form)

  function localStamp(d) {
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" + two(d.getHours()) + ":" +
      two(d.getMinutes());
  }

  // input[data-device-time="start"] gets the phone's time when the form opens, "end" when it is saved (unless
  // the user typed a time).
  function initDeviceTime(input) {
    input.addEventListener("input", function () { input._faTyped = true; });
    if (input.getAttribute("data-device-time") === "start" && !input.value) { input.value = localStamp(new Date()); }
  }

  function stampEndTime(form) {
    form.querySelectorAll('input[data-device-time="end"]').forEach(function (input) {
      if (!input._faTyped || !input.value) { input.value = localStamp(new Date()); }
    });
  }

  // <fieldset data-geo data-geo-warn-m="100"> with inputs data-geo="lat|lng|accuracy" and [data-geo-status]:
  // filled from the phone's position (the best fix within a minute); an imprecise fix is only a warning.
  function initGeo(box) {
    if (!navigator.geolocation) { return; }
    var lat = box.querySelector('input[data-geo="lat"]');
    var lng = box.querySelector('input[data-geo="lng"]');
    var acc = box.querySelector('input[data-geo="accuracy"]');
    var status = box.querySelector("[data-geo-status]");
    var warnAt = parseFloat(box.getAttribute("data-geo-warn-m")) || 100;
    if (!lat || !lng) { return; }
    var best = acc && acc.value ? parseFloat(acc.value) : Infinity;
    var watch = null;
    function stop() { if (watch !== null) { navigator.geolocation.clearWatch(watch); watch = null; } }
    function show(text, warn) {
      if (!status) { return; }
      status.textContent = text;
      status.classList.toggle("error", !!warn);
    }
    show(msg("geo_wait"));
    watch = navigator.geolocation.watchPosition(function (pos) {
      if (!box.isConnected) { stop(); return; }
      var metres = Math.round(pos.coords.accuracy);
      if (!(metres < best)) { return; }
      best = metres;
      lat.value = pos.coords.latitude.toFixed(7);
      lng.value = pos.coords.longitude.toFixed(7);
      if (acc) { acc.value = String(metres); }
      show((metres > warnAt ? msg("geo_weak") : msg("geo_ok")).replace("{metres}", String(metres)), metres > warnAt);
      var form = box.closest("form");
      if (form) { scheduleSave(form); }
      if (metres <= 20) { stop(); }
    }, function () {
      if (!lat.value) { show(msg("geo_none"), true); }
      stop();
    }, {enableHighAccuracy: true, timeout: 30000, maximumAge: 60000});
    setTimeout(stop, 60000);
  }

  // ------------------------------------------------------------------ wiring up new content

  var scanHooks = [];

  function each(root, selector, fn) {
    var found = [];
    if (root.matches && root.matches(selector)) { found.push(root); }
    Array.prototype.push.apply(found, root.querySelectorAll(selector));
    found.forEach(function (el) {
      var flag = "_fa_" + selector;
      if (el[flag]) { return; }
      el[flag] = true;
      fn(el);
    });
  }

  function scan(root) {
    if (!root || !root.querySelectorAll) { return; }
    each(root, "#outbox", initOutbox);
    each(root, "[data-signature-pad]", initPadHolder);
    each(root, PAD_SELECTOR, initPad);
    each(root, "input[data-device-time]", initDeviceTime);
    each(root, "[data-geo]:not(input)", initGeo);
    each(root, "form[data-offline][data-draft-key]", restoreDraft);
    scanHooks.forEach(function (hook) { hook(root); });
  }

  function onInput(evt) {
    var el = evt.target;
    if (!el || el.type === "file") { return; }
    var form = el.form || (el.closest && el.closest("form"));
    if (!form || !form.hasAttribute("data-offline")) { return; }
    form._faEdits = (form._faEdits || 0) + 1;
    scheduleSave(form);
  }

  // A reset form (cleared after its entry went to the outbox) gets a new start time and the right pad shown.
  document.addEventListener("reset", function (evt) {
    var form = evt.target;
    setTimeout(function () {
      form.querySelectorAll('input[data-device-time="start"]').forEach(function (input) {
        if (!input.value) { input.value = localStamp(new Date()); }
      });
      form.querySelectorAll("[data-signature-pad]").forEach(function (holder) {
        if (holder._faSync) { holder._faSync(); }
      });
    });
  });
  document.addEventListener("input", onInput);
  document.addEventListener("change", onInput);
  document.addEventListener("htmx:load", function (evt) { scan(evt.target); });
  window.addEventListener("online", function () {
    loginBlocked = false;
    items().then(function (all) {
      return Promise.all(all.filter(function (it) { return it.state === "pending"; }).map(function (it) {
        it.nextAt = Date.now();
        return idbPut("outbox", it);
      }));
    }).then(function () { pump(true); });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flushDrafts(); return; }
    if (loginBlocked) { loginBlocked = false; }
    pump();
  });
  window.addEventListener("pagehide", flushDrafts);

  function start() {
    openDb().then(function () {
      scan(document.body);
      return pruneSent();
    }).then(function () {
      return pump("load");
    }).catch(function () { /* no IndexedDB: forms submit the ordinary way */ });
  }

  // photos.js (resizing and queued uploads) is fetched only once a page shows a photo input: most pages have none,
  // and a phone's first visit should not pay for it. <html data-photos-js> carries its hashed address.
  var photosRequested = false;
  scanHooks.push(function (root) {
    var src = document.documentElement.getAttribute("data-photos-js");
    if (photosRequested || FA.photos || !src) { return; }
    if (!((root.matches && root.matches("input[data-photo-upload]")) || root.querySelector("input[data-photo-upload]"))) {
      return;
    }
    photosRequested = true;
    var script = document.createElement("script");
    script.src = src;
    document.head.appendChild(script);
  });

  openDb().catch(function () {});
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }

  FA.msg = msg;
  FA.user = user;
  FA.newKey = newKey;
  FA.csrfToken = csrfToken;
  FA.items = items;
  FA.enqueue = enqueue;
  FA.attempt = attempt;
  FA.retryNow = retryNow;
  FA.removeItem = removeItem;
  FA.onChange = onChange;
  FA.pump = pump;
  FA.swapInto = swapInto;
  FA.onScan = function (hook) { scanHooks.push(hook); if (document.body && dbState === "ok") { hook(document.body); } };
  FA.ready = function () { return openDb(); };
  FA.draftFields = draftFields;
  FA.excerpt = excerpt;
  FA.pageLabel = pageLabel;
})();
