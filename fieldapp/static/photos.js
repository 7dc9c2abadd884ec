// Fieldapp photos for weak signal: loaded by offline.js when a page shows a photo input (it uses window.Fieldapp).
//
//   <input type="file" accept="image/*" capture="environment" name="photo"
//          data-photo-upload="/households/12/photos" data-photo-kind="house" [data-photo-target="#photos"]>
//
// On change, each chosen photo is read for its EXIF GPS position and time (the resize drops all metadata), turned
// upright and resized in the browser (longest side 1600 px, JPEG quality 0.8), put in the outbox (IndexedDB) with
// its own one-time key, then uploaded as multipart (photo, kind, idem_key, csrf_token, gps_lat, gps_lng, taken_at)
// with a progress bar per photo. A failed upload keeps the photo on the phone: it is retried by the outbox (same
// key), can be retried by hand, and is shown again after a reload. A 2xx answer is added to data-photo-target
// (beforeend) when the input names one; the photo's row stays, marked "uploaded".
(function () {
  "use strict";

  var FA = window.Fieldapp;
  if (!FA) { return; }
  var MAX_SIDE = 1600;
  var QUALITY = 0.8;
  var rows = {};  // item id -> {li, progress, status, actions, url}

  function make(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { el.setAttribute(name, attrs[name]); });
    if (text != null) { el.textContent = text; }
    return el;
  }

  function uploadUrl(input) { return new URL(input.getAttribute("data-photo-upload"), location.href).href; }
  function kindOf(input) { return input.getAttribute("data-photo-kind") || ""; }

  function labelFor(input, file) {
    var parts = [FA.pageLabel()];
    var label = input.labels && input.labels[0];
    parts.push(label ? label.textContent.replace(/\s+/g, " ").trim() : FA.msg("photo"));
    if (file && file.name) { parts.push(file.name); }
    return parts.join(" · ");
  }

  // ------------------------------------------------------------------ EXIF: GPS and time, read before resizing

  function readExif(file) {
    if (!file.slice) { return Promise.resolve({}); }
    return file.slice(0, 262144).arrayBuffer().then(parseJpeg).catch(function () { return {}; });
  }

  function parseJpeg(buf) {
    var v = new DataView(buf);
    if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) { return {}; }
    var off = 2;
    while (off + 4 <= v.byteLength) {
      var marker = v.getUint16(off);
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { break; }
      var len = v.getUint16(off + 2);
      var exif = off + 10 <= v.byteLength && v.getUint32(off + 4) === 0x45786966 && v.getUint16(off + 8) === 0;
      if (marker === 0xFFE1 && exif) {
        return parseTiff(v, off + 10);
      }
      off += 2 + len;
    }
    return {};
  }

  function parseTiff(v, t) {
    var little = v.getUint16(t) === 0x4949;
    function u16(o) { return v.getUint16(t + o, little); }
    function u32(o) { return v.getUint32(t + o, little); }
    if (u16(2) !== 42) { return {}; }
    function ifd(o) {
      var tags = {};
      var n = u16(o);
      for (var i = 0; i < n; i++) {
        var e = o + 2 + i * 12;
        tags[u16(e)] = {type: u16(e + 2), count: u32(e + 4), at: e + 8};
      }
      return tags;
    }
    function ascii(tag) {
      var o = tag.count > 4 ? u32(tag.at) : tag.at;
      var s = "";
      for (var i = 0; i < tag.count; i++) {
        var c = v.getUint8(t + o + i);
        if (!c) { break; }
        s += String.fromCharCode(c);
      }
      return s;
    }
    function rationals(tag) {
      var o = u32(tag.at);
      var out = [];
      for (var i = 0; i < tag.count; i++) {
        var num = tag.type === 10 ? v.getInt32(t + o + i * 8, little) : u32(o + i * 8);
        var den = tag.type === 10 ? v.getInt32(t + o + i * 8 + 4, little) : u32(o + i * 8 + 4);
        out.push(den ? num / den : 0);
      }
      return out;
    }
    function degrees(parts) { return (parts[0] || 0) + (parts[1] || 0) / 60 + (parts[2] || 0) / 3600; }
    var out = {};
    var ifd0 = ifd(u32(4));
    if (ifd0[0x8825]) {
      var g = ifd(u32(ifd0[0x8825].at));
      if (g[2] && g[4]) {
        var lat = degrees(rationals(g[2]));
        var lng = degrees(rationals(g[4]));
        if (g[1] && ascii(g[1]).toUpperCase() === "S") { lat = -lat; }
        if (g[3] && ascii(g[3]).toUpperCase() === "W") { lng = -lng; }
        if (isFinite(lat) && isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180 && (lat !== 0 || lng !== 0)) {
          out.lat = lat.toFixed(7);
          out.lng = lng.toFixed(7);
        }
      }
    }
    var stamp = null;
    if (ifd0[0x8769]) {
      var ex = ifd(u32(ifd0[0x8769].at));
      if (ex[0x9003]) { stamp = ascii(ex[0x9003]); }
    }
    if (!stamp && ifd0[0x0132]) { stamp = ascii(ifd0[0x0132]); }
    var m = stamp && /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)/.exec(stamp);
    if (m) { out.takenAt = m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + m[6]; }
    return out;
  }

  // ------------------------------------------------------------------ resizing

  function decode(file) {
    return createImageBitmap(file, {imageOrientation: "from-image"}).catch(function () {
      return createImageBitmap(file);
    });
  }

  // The photo upright, longest side <= 1600 px, as JPEG 0.8; null when the browser cannot decode it (HEIC on some
  // phones): the original is sent and the server converts it.
  function resize(file) {
    if (!window.createImageBitmap) { return Promise.resolve(null); }
    return decode(file).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      var w = Math.max(1, Math.round(bmp.width * scale));
      var h = Math.max(1, Math.round(bmp.height * scale));
      var canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      var ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, w, h);
      ctx.drawImage(bmp, 0, 0, w, h);
      if (bmp.close) { bmp.close(); }
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", QUALITY); }).then(function (blob) {
        canvas.width = 0;
        canvas.height = 0;
        return blob;
      });
    }).catch(function () { return null; });
  }

  // ------------------------------------------------------------------ one row per photo

  function photoBlob(item) {
    for (var i = 0; i < (item.entries || []).length; i++) {
      var value = item.entries[i][1];
      if (item.entries[i][0] === "photo" && value && value.blob) { return value.blob; }
    }
    return null;
  }

  function buildRow(list, id, name) {
    var li = make("li", {"class": "photo-item", "data-id": id, "data-state": "preparing"});
    var figure = make("div", {"class": "photo-thumb"});
    li.appendChild(figure);
    var title = make("p", {}, name || FA.msg("photo"));
    li.appendChild(title);
    var progress = make("progress", {"max": "1", "aria-label": name || FA.msg("photo")});
    li.appendChild(progress);
    var status = make("p", {"class": "muted photo-status", "role": "status"}, FA.msg("preparing"));
    li.appendChild(status);
    var actions = make("div", {"class": "photo-actions"});
    li.appendChild(actions);
    list.appendChild(li);
    var row = {li: li, progress: progress, status: status, actions: actions, figure: figure, list: list};
    rows[id] = row;
    return row;
  }

  function showThumb(row, blob) {
    if (!blob || row.figure.firstChild) { return; }
    var url = URL.createObjectURL(blob);
    var img = make("img", {"src": url, "alt": "", "width": "96"});
    img.addEventListener("load", function () {
      if (img.naturalWidth) { img.height = Math.round(96 * img.naturalHeight / img.naturalWidth); }
    });
    row.figure.appendChild(img);
    row.thumbUrl = url;
  }

  function setState(row, item) {
    var state = item.state;
    row.li.setAttribute("data-state", state);
    row.actions.textContent = "";
    if (state === "sending") {
      row.status.textContent = FA.msg("uploading");
    } else if (state === "sent") {
      row.progress.max = 1;
      row.progress.value = 1;
      row.status.textContent = FA.msg("uploaded");
    } else if (state === "pending") {
      if (!row.progress.hasAttribute("value")) { row.progress.value = 0; }
      row.status.textContent = item.attempts ? FA.msg("failed") : FA.msg("pending");
      var retry = make("button", {"type": "button", "class": "secondary", "data-action": "retry"}, FA.msg("retry"));
      retry.addEventListener("click", function () { FA.retryNow(item.id); });
      row.actions.appendChild(retry);
    } else if (state === "login") {
      row.status.textContent = FA.msg("login");
    } else {
      row.status.textContent = FA.msg(state);
      if (item.fragment) { row.actions.appendChild(FA.excerpt(item.fragment)); }
      var remove = make("button", {"type": "button", "class": "secondary", "data-action": "remove"}, FA.msg("remove"));
      remove.addEventListener("click", function () { FA.removeItem(item.id); });
      row.actions.appendChild(remove);
    }
  }

  function dropRow(id) {
    var row = rows[id];
    if (!row) { return; }
    if (row.thumbUrl) { URL.revokeObjectURL(row.thumbUrl); }
    row.li.remove();
    delete rows[id];
  }

  FA.onChange(function (type, item, extra) {
    var row = rows[item.id];
    if (!row) { return; }
    if (!row.li.isConnected) { delete rows[item.id]; return; }
    if (type === "removed") { dropRow(item.id); return; }
    if (type === "progress") {
      if (extra.total) {
        row.progress.max = extra.total;
        row.progress.value = extra.loaded;
      }
      return;
    }
    if (type === "answer") {
      var target = item.target && document.querySelector(item.target);
      if (target && extra.text && extra.text.trim()) { FA.swapInto(target, extra.text, "beforeend"); }
      return;
    }
    if (type === "item") { setState(row, item); }
  });

  // ------------------------------------------------------------------ choosing photos

  function addPhoto(input, list, file) {
    var id = FA.newKey();
    var row = buildRow(list, id, file.name);
    showThumb(row, file);
    return Promise.all([readExif(file), resize(file)]).then(function (got) {
      var meta = got[0], blob = got[1];
      var upload = blob || file;
      var entries = [
        ["photo", {blob: upload, filename: blob ? "photo.jpg" : (file.name || "photo")}],
        ["kind", kindOf(input)],
        ["idem_key", id],
        ["csrf_token", FA.csrfToken()]
      ];
      // The other fields of the form around the input (visit_id, next, ...) go along.
      var form = input.form;
      if (form) {
        FA.draftFields(form).forEach(function (pair) {
          if (pair[0] !== "kind" && pair[0] !== "idem_key" && pair[0] !== "photo") { entries.push(pair); }
        });
      }
      if (meta.lat != null) { entries.push(["gps_lat", meta.lat], ["gps_lng", meta.lng]); }
      if (meta.takenAt) { entries.push(["taken_at", meta.takenAt]); }
      var item = {
        id: id, kind: "photo", create: true, url: uploadUrl(input), method: "POST", entries: entries,
        photoKind: kindOf(input), label: labelFor(input, file), target: input.getAttribute("data-photo-target") || null,
        size: upload.size
      };
      if (blob && row.thumbUrl) {
        URL.revokeObjectURL(row.thumbUrl);
        row.figure.textContent = "";
        row.thumbUrl = null;
        showThumb(row, blob);
      }
      return FA.enqueue(item).then(function () { return FA.attempt(item); });
    }).catch(function () {
      row.li.setAttribute("data-state", "error");
      row.status.textContent = FA.msg("error");
    });
  }

  // A form that only carries this upload (its action is the upload URL): choosing a photo sends it, so the form's
  // own submit button (for phones without JavaScript) is hidden and its submission ignored.
  function photoOnlyForm(input) {
    var form = input.form;
    if (!form || new URL(form.getAttribute("action") || location.href, location.href).href !== uploadUrl(input)) {
      return null;
    }
    return form;
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement) || !form._faPhotoOnly) { return; }
    evt.preventDefault();
    evt.stopImmediatePropagation();
  }, true);

  function initInput(input) {
    if (input._faPhoto) { return; }
    input._faPhoto = true;
    var only = photoOnlyForm(input);
    if (only) {
      only._faPhotoOnly = true;
      only.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (b) {
        b.remove();
      });
    }
    var list = make("ul", {"class": "cards photo-queue"});
    var field = input.closest(".field");
    (field || input).insertAdjacentElement("afterend", list);
    var chain = Promise.resolve();
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) { return; }
      input.value = "";  // uploaded here, one by one; the surrounding form must not send them again
      files.forEach(function (file) {
        chain = chain.then(function () { return addPhoto(input, list, file); });
      });
    });
    // Photos chosen before a reload or crash and not yet confirmed: shown again; the outbox sends them.
    FA.items().then(function (all) {
      all.filter(function (it) {
        return it.kind === "photo" && it.state !== "sent" && it.url === uploadUrl(input) &&
          it.photoKind === kindOf(input);
      }).forEach(function (it) {
        if (rows[it.id]) { return; }
        var row = buildRow(list, it.id, it.label ? it.label.split(" · ").pop() : FA.msg("photo"));
        showThumb(row, photoBlob(it));
        setState(row, it);
      });
    });
  }

  FA.onScan(function (root) {
    var found = [];
    if (root.matches && root.matches("input[data-photo-upload]")) { found.push(root); }
    Array.prototype.push.apply(found, root.querySelectorAll("input[data-photo-upload]"));
    found.forEach(initInput);
  });

  FA.photos = {readExif: readExif, resize: resize};
})();
