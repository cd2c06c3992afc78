// glassvid AR pack preview: plays the pack over a background with a WebGL shader.
// The shader is the compositing formula of manifest.json, and the same arithmetic as
// glassvid.export.composite.composite_frame (the browser test compares the two).
// Query parameters: bg=URL (background image or video), frame=K (show frame K, paused),
// report=URL (test hook: POST frame K's canvas pixels there as JSON).
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const canvas = $("view");
  const setStatus = (text) => { $("status").textContent = text; };

  const VERT = "attribute vec2 pos;\nvoid main() { gl_Position = vec4(pos, 0.0, 1.0); }\n";
  const FRAG = `precision highp float;
uniform sampler2D bgTex, glassTex, refrTex;
uniform vec2 frameSize;   // canvas = the pack's frame_size, pixels
uniform vec4 crop;        // layer rectangle: x, y, width, height (pixels, origin top-left)
uniform float offsetRange;
uniform vec3 tint;
uniform float hasLayer;
float dec(float c) { return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4); }
vec3 dec3(vec3 c) { return vec3(dec(c.r), dec(c.g), dec(c.b)); }
float enc(float v) { return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1.0 / 2.4) - 0.055; }
void main() {
  vec2 p = vec2(gl_FragCoord.x, frameSize.y - gl_FragCoord.y);  // pixel centre, y down
  vec3 base = dec3(texture2D(bgTex, p / frameSize).rgb);
  vec3 outc = base;
  vec2 lp = p - crop.xy;
  if (hasLayer > 0.5 && lp.x >= 0.0 && lp.y >= 0.0 && lp.x < crop.z && lp.y < crop.w) {
    vec2 luv = lp / crop.zw;
    vec4 g = texture2D(glassTex, luv);
    vec4 r = texture2D(refrTex, luv);
    vec2 d = (floor(r.rg * 255.0 + 0.5) - 128.0) / 127.0 * offsetRange;  // layer UV units
    float c = r.b;
    vec3 seen = dec3(texture2D(bgTex, (p + d * crop.zw) / frameSize).rgb);
    outc = dec3(g.rgb) + (1.0 - c) * base + max(c - g.a, 0.0) * tint * seen;
  }
  outc = clamp(outc, 0.0, 1.0);
  gl_FragColor = vec4(enc(outc.r), enc(outc.g), enc(outc.b), 1.0);
}
`;

  let gl = null, prog = null, uni = {}, tex = {};
  let manifest = null, resolveUrl = null;
  let glassFrames = [], refrFrames = [];
  let background = null, backgroundIsVideo = false;
  let current = 0, playing = !params.has("frame"), started = 0;

  function compile(type, source) {
    const s = gl.createShader(type);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error("shader: " + gl.getShaderInfoLog(s));
    return s;
  }

  function setupGL(width, height) {
    canvas.width = width;
    canvas.height = height;
    gl = canvas.getContext("webgl", { alpha: false, antialias: false, premultipliedAlpha: false, preserveDrawingBuffer: true });
    if (!gl) throw new Error("this browser has no WebGL");
    prog = gl.createProgram();
    gl.attachShader(prog, compile(gl.VERTEX_SHADER, VERT));
    gl.attachShader(prog, compile(gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error("program: " + gl.getProgramInfoLog(prog));
    gl.useProgram(prog);
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const pos = gl.getAttribLocation(prog, "pos");
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    for (const name of ["bgTex", "glassTex", "refrTex", "frameSize", "crop", "offsetRange", "tint", "hasLayer"]) {
      uni[name] = gl.getUniformLocation(prog, name);
    }
    ["bgTex", "glassTex", "refrTex"].forEach((name, unit) => {
      const t = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, t);
      // NPOT textures: no mipmaps, clamp to the edge (a ray leaving the frame sees its edge)
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.uniform1i(uni[name], unit);
      tex[name] = { unit, texture: t };
    });
  }

  function upload(name, source) {
    const t = tex[name];
    gl.activeTexture(gl.TEXTURE0 + t.unit);
    gl.bindTexture(gl.TEXTURE_2D, t.texture);
    // the files' bytes, untouched: no premultiplication, no colour management, no flip
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
  }

  function draw(k) {
    const m = manifest;
    upload("glassTex", glassFrames[k]);
    upload("refrTex", refrFrames[k]);
    if (backgroundIsVideo || !draw.bgUploaded) { upload("bgTex", background); draw.bgUploaded = true; }
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.uniform2f(uni.frameSize, m.frame_size[0], m.frame_size[1]);
    gl.uniform4f(uni.crop, m.crop.x, m.crop.y, m.crop.width, m.crop.height);
    gl.uniform1f(uni.offsetRange, m.layers.refraction.offset_range);
    gl.uniform3f(uni.tint, m.tint[0], m.tint[1], m.tint[2]);
    gl.uniform1f(uni.hasLayer, 1.0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    $("frame").value = String(k);
    $("frameText").textContent = String(k);
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("cannot load " + url));
      img.src = url;
    });
  }

  function loadBackground(url, isVideo) {
    if (!isVideo) return loadImage(url).then((img) => { background = img; backgroundIsVideo = false; draw.bgUploaded = false; });
    return new Promise((resolve, reject) => {
      const v = document.createElement("video");
      v.muted = true; v.loop = true; v.playsInline = true;
      v.oncanplay = () => { v.oncanplay = null; v.play(); background = v; backgroundIsVideo = true; resolve(); };
      v.onerror = () => reject(new Error("cannot play " + url));
      v.src = url;
    });
  }

  const pad4 = (k) => String(k).padStart(4, "0");
  const framePath = (pattern, k) => pattern.replace("%04d", pad4(k));

  async function openPack(m, resolve) {
    manifest = m;
    resolveUrl = resolve;
    setStatus("Loading " + m.frame_count + " frames...");
    const n = m.frame_count;
    const idx = [...Array(n).keys()];
    glassFrames = await Promise.all(idx.map((k) => loadImage(resolve(framePath(m.layers.glass.frames, k)))));
    refrFrames = await Promise.all(idx.map((k) => loadImage(resolve(framePath(m.layers.refraction.frames, k)))));
    const bg = params.get("bg");
    await loadBackground(bg ? bg : resolve(m.background), bg ? /\.(webm|mp4|mov|ogv)$/i.test(bg) : false);
    setupGL(m.frame_size[0], m.frame_size[1]);
    $("frame").max = String(n - 1);
    current = Math.min(Number(params.get("frame") || 0), n - 1);
    draw(current);
    setStatus(n + " frames at " + m.fps.toFixed(3) + " fps, layer " + m.size[0] + "x" + m.size[1] + " in a " + m.frame_size[0] + "x" + m.frame_size[1] + " frame");
    if (params.has("report")) report();
    started = performance.now();
    requestAnimationFrame(tick);
  }

  function tick(now) {
    if (playing && manifest) {
      const k = Math.floor(((now - started) / 1000) * manifest.fps) % manifest.frame_count;
      if (k !== current || backgroundIsVideo) { current = k; draw(k); }
    }
    requestAnimationFrame(tick);
  }

  function toBase64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  function post(body) {
    return fetch(params.get("report"), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  function report() {
    const w = canvas.width, h = canvas.height;
    const px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    const rows = new Uint8Array(w * h * 4);  // top row first, as images are stored
    for (let y = 0; y < h; y++) rows.set(px.subarray((h - 1 - y) * w * 4, (h - y) * w * 4), y * w * 4);
    post({ frame: current, width: w, height: h, rgba: toBase64(rows), renderer: gl.getParameter(gl.RENDERER) });
  }

  function fail(err) {
    setStatus("Error: " + err.message);
    if (params.has("report")) post({ error: String(err && err.message || err) });
  }

  $("play").onclick = () => {
    playing = !playing;
    $("play").textContent = playing ? "Pause" : "Play";
    started = performance.now() - (current / (manifest ? manifest.fps : 1)) * 1000;
  };
  $("play").textContent = playing ? "Pause" : "Play";
  $("frame").oninput = () => { playing = false; $("play").textContent = "Play"; current = Number($("frame").value); if (manifest) draw(current); };
  $("bgFile").onchange = (e) => {
    const f = e.target.files[0];
    if (f) loadBackground(URL.createObjectURL(f), f.type.startsWith("video/")).then(() => { if (manifest) draw(current); }).catch(fail);
  };
  $("packDir").onchange = (e) => {
    const files = [...e.target.files];
    const man = files.find((f) => /(^|\/)manifest\.json$/.test(f.webkitRelativePath || f.name));
    if (!man) { setStatus("That folder has no manifest.json; choose the folder `glassvid export-ar` wrote."); return; }
    const base = (man.webkitRelativePath || "").replace(/manifest\.json$/, "");
    const urls = new Map(files.map((f) => [(f.webkitRelativePath || f.name).slice(base.length), URL.createObjectURL(f)]));
    man.text().then((t) => openPack(JSON.parse(t), (p) => urls.get(p) || p)).catch(fail);
  };
  window.addEventListener("error", (e) => fail(e.error || new Error(e.message)));

  fetch("../manifest.json")
    .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then((m) => openPack(m, (p) => "../" + p), () => setStatus("Choose the pack folder above (a page opened as a file cannot read its folder by itself)."))
    .catch(fail);
})();
