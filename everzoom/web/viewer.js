// everzoom's viewer: the zoom of an exported series, drawn as everzoom's renderer draws a frame.
// Plain JavaScript, no framework. The data (layers, placements, blend, camera path) is embedded
// in the page by `everzoom web`; nothing is fetched from the network.
//
// Position z: how many image steps in from the outermost image (0) to the innermost (n - 1).
// A view at z is as wide as the log-linear interpolation of the layers' fitted widths, centred
// on the exported centre path; every visible layer is drawn coarse to fine with the same alpha
// ramps as the Python renderer (render.py: band, growth), sampled trilinearly from mipmaps.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("everzoom-data").textContent);
  const layers = data.layers;                    // innermost first
  const loop = data.loop;                        // a closed series: {scale} of each copy inside the last
  const n = layers.length, steps = loop ? n : n - 1;
  const canvas = document.getElementById("view");
  const message = document.getElementById("message");
  const params = new URLSearchParams(location.search);
  const MIN_FEATHER = 2, RESIDENT = 6;

  let readyResolve;
  const api = { ready: new Promise((r) => { readyResolve = r; }), backend: null };
  window.everzoom = api;

  // ---- geometry, as stack.py / path.py / render.py / loop.py ---------------------------------
  // What is drawn are instances of the layers: the layers themselves and, in a closed loop, their
  // copies inside the innermost one (copy m: scaled by loop.scale ** m about the origin), innermost
  // first, as many as the deepest view of a period needs.
  const smoothstep = (x) => { x = Math.min(Math.max(x, 0), 1); return x * x * (3 - 2 * x); };
  let vw = 1, vh = 1, logFit = [], placed = [];

  function instance(k, m) {
    const l = layers[k], s = loop ? loop.scale ** m : 1;
    return { k, w: l.w, h: l.h, seams: l.seams, interior: l.interior, zoned: l.reveal !== null, cx: l.cx * s,
             cy: l.cy * s, width: l.width * s, height: l.height * s, fit: Math.exp(logFit[k]) * s, grow: data.grow[k] };
  }
  function bottom() { return loop ? logFit[n - 1] + Math.log(loop.scale) : logFit[0]; }

  function fitWidths() {
    logFit = layers.map((l) => Math.log(Math.min(l.width, l.height * vw / vh)));
    placed = layers.map((l, k) => instance(k, 0));
    const smallest = Math.exp(bottom()) / vw / 2;
    for (let m = 1; loop && placed[0].width >= smallest; m++) placed = layers.map((l, k) => instance(k, m)).concat(placed);
  }

  function wrap(z) { return loop ? ((z % steps) + steps) % steps : Math.min(Math.max(z, 0), steps); }

  function view(z) {
    const t = wrap(z) / steps;
    const lw = logFit[n - 1] + t * (bottom() - logFit[n - 1]);
    const width = Math.exp(lw);
    const c = data.centre, f = t * (c.length - 1), i = Math.min(Math.floor(f), c.length - 2), a = f - i;
    const rx = c[i][0] * (1 - a) + c[i + 1][0] * a, ry = c[i][1] * (1 - a) + c[i + 1][1] * a;
    return { cx: rx * width, cy: ry * width, width, pixel: width / vw };
  }

  function growth(i, v, part = 1) {
    const p = placed[i];
    return smoothstep(Math.log(v.width / p.fit) / (part * p.grow));
  }

  // How far the layer gives up its zone: 1 while it is small, 0 at its own view (render.py: cover),
  // and where the boundary of what it shows then lies on its reveal field (render.py: reveal_alpha).
  function cover(i, v) { return placed[i].zoned && data.crop === null ? growth(i, v, data.blend_grow) : 0; }
  function boundary(c) { return c * (1 + data.reveal.rho) - data.reveal.rho; }

  // Alpha ramp widths per side (left, top, right, bottom), in the layer's pixels, from the edge in.
  function band(i, v) {
    const l = placed[i], g = growth(i, v);
    if (data.crop === null) {
      if (v.width <= l.fit * (1 + 1e-9)) return [0, 0, 0, 0];
      const across = data.seam_width === null ? data.seam_fraction * Math.min(vw, vh) : data.seam_width;
      const seam = Math.max(MIN_FEATHER, across * v.pixel / (l.width / l.w)), soon = growth(i, v, data.feather_grow);
      return l.seams.map((s) => (s ? soon * seam : g * MIN_FEATHER));
    }
    const bx = g * Math.max(MIN_FEATHER, (1 - data.crop) / 2 * l.w), by = g * Math.max(MIN_FEATHER, (1 - data.crop) / 2 * l.h);
    return [bx, by, bx, by];
  }

  function rect(l) { return [l.cx - l.width / 2, l.cy - l.height / 2, l.cx + l.width / 2, l.cy + l.height / 2]; }

  function opaqueOver(i, v) {
    const l = placed[i], px = l.width / l.w, r = rect(l), c = cover(i, v);   // (interior: the field's solid part)
    const b = band(i, v).map((w, s) => (c > 0 ? Math.max(w, l.interior[s]) : w));
    const vl = v.cx - v.width / 2, vt = v.cy - v.width * vh / vw / 2, vr = v.cx + v.width / 2, vb = v.cy + v.width * vh / vw / 2;
    return r[0] + b[0] * px <= vl && r[2] - b[2] * px >= vr && r[1] + b[1] * px <= vt && r[3] - b[3] * px >= vb;
  }

  // The instances to draw, coarsest (drawn opaque) first: as render.py, but at most RESIDENT
  // (a layer narrower than a 32nd of the frame at zoom 2 adds next to nothing), so that a long
  // series stays within a phone's GPU memory.
  function visible(v) {
    let base = placed.length - 1;
    for (let i = 0; i < placed.length - 1; i++) if (opaqueOver(i, v)) { base = i; break; }
    const drawn = [base];
    for (let i = base - 1; i >= 0 && drawn.length < RESIDENT; i--) {
      if (placed[i].width / v.pixel < 1) break;
      drawn.push(i);
    }
    return drawn;
  }

  // ---- images: decoded on demand, at most RESIDENT layers kept ---------------------------------
  const images = new Map();   // k -> {image, reveal, loaded: Promise}
  function load(src) {
    return new Promise((resolve, reject) => {
      const im = new Image();
      im.onload = () => resolve(im);
      im.onerror = () => reject(new Error("cannot decode a layer"));
      im.src = src;
    });
  }
  function want(k) {
    if (!images.has(k)) {
      const entry = { image: null, reveal: null };
      entry.loaded = Promise.all([load(layers[k].src), layers[k].reveal ? load(layers[k].reveal) : null])
        .then(([a, b]) => { entry.image = a; entry.reveal = b; });
      images.set(k, entry);
    }
    return images.get(k);
  }
  function keepOnly(needed) {
    const keep = new Set(needed);
    const sorted = [...images.keys()].sort((a, b) => Math.abs(a - needed[0]) - Math.abs(b - needed[0]));
    for (const k of sorted) if (!keep.has(k) && images.size > RESIDENT) { backend.drop(k); images.delete(k); }
  }

  // ---- OpenCV's pyrDown on RGBA bytes: 5-tap (1 4 6 4 1)/16 each way, mirrored border (reflect
  // 101), output (w + 1) / 2 wide, integer sums rounded once, as cv2.pyrDown rounds them.
  function pyrDown(src) {
    const { w, h, data } = src, W = (w + 1) >> 1, H = (h + 1) >> 1, k = [1, 4, 6, 4, 1];
    const m = (i, n) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
    const rows = new Int32Array(W * h * 4), out = new Uint8ClampedArray(W * H * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < W; x++) {
        for (let ch = 0; ch < 4; ch++) {
          let s = 0;
          for (let j = -2; j <= 2; j++) s += k[j + 2] * data[(y * w + m(2 * x + j, w)) * 4 + ch];
          rows[(y * W + x) * 4 + ch] = s;
        }
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let ch = 0; ch < 4; ch++) {
          let s = 0;
          for (let j = -2; j <= 2; j++) s += k[j + 2] * rows[(m(2 * y + j, h) * W + x) * 4 + ch];
          out[(y * W + x) * 4 + ch] = (s + 128) >> 8;
        }
      }
    }
    return { w: W, h: H, data: out };
  }
  function crop(lv, w, h) {
    if (w === lv.w && h === lv.h) return new Uint8Array(lv.data.buffer, lv.data.byteOffset, lv.data.length);
    const out = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) out.set(lv.data.subarray(y * lv.w * 4, (y * lv.w + w) * 4), y * w * 4);
    return out;
  }

  // ---- WebGL2 backend -------------------------------------------------------------------------
  const VS = `#version 300 es
  in vec2 corner; uniform vec4 box; uniform vec2 viewport; out vec2 frag;
  void main() { frag = mix(box.xy, box.zw, corner);
    gl_Position = vec4(frag.x / viewport.x * 2.0 - 1.0, 1.0 - frag.y / viewport.y * 2.0, 0.0, 1.0); }`;
  // Sampling as render.py does: from the layer's own pyramid (OpenCV's pyrDown, rebuilt here
  // exactly), level-n pixel j sitting at level-0 pixel j * 2^n, mixed between the two levels
  // around the scale (render.py blurs within the finer one instead: nearly the same).
  const FS = `#version 300 es
  precision highp float;
  in vec2 frag; out vec4 colour;
  uniform sampler2D image; uniform float lod, top, zoned, boundary;
  uniform vec2 reveal;       // the reveal field's reach and the boundary's crossing (blend.py, render.py)
  uniform vec4 place;        // frame x, y of the layer's left/top edge; layer px per frame px; opaque
  uniform vec2 size;         // layer size in its pixels
  uniform vec4 widths;
  float ss(float x) { x = clamp(x, 0.0, 1.0); return x * x * (3.0 - 2.0 * x); }
  vec4 level(sampler2D t, vec2 uv, float n) {
    vec2 tc = ((uv - 0.5) / exp2(n) + 0.5) / vec2(textureSize(t, int(n)));
    return textureLod(t, tc, n);
  }
  vec4 pick(sampler2D t, vec2 uv) {
    float l = clamp(lod, 0.0, top), base = min(floor(l), top), f = l - base;
    vec4 c = level(t, uv, base);
    return f > 0.0 ? mix(c, level(t, uv, min(base + 1.0, top)), f) : c;
  }
  void main() {
    vec2 uv = (frag - place.xy) * place.z;            // layer pixels
    vec4 c = pick(image, uv);                         // its reveal field in the alpha channel
    float ax = min(ss(uv.x / max(widths.x, 1e-6)), ss((size.x - uv.x) / max(widths.z, 1e-6)));
    float ay = min(ss(uv.y / max(widths.y, 1e-6)), ss((size.y - uv.y) / max(widths.w, 1e-6)));
    float shown = zoned > 0.5 ? ss((c.a * reveal.x - boundary) / reveal.y) : 1.0;
    colour = vec4(c.rgb, place.w > 0.5 ? 1.0 : ax * ay * shown);
  }`;

  function webgl2() {
    const gl = canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: false, alpha: false,
                                             preserveDrawingBuffer: true });
    if (!gl) return null;
    let program = null;
    const textures = new Map();
    const maxSize = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    function compile() {
      const make = (type, src) => {
        const s = gl.createShader(type);
        gl.shaderSource(s, src);
        gl.compileShader(s);
        if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
        return s;
      };
      const p = gl.createProgram();
      gl.attachShader(p, make(gl.VERTEX_SHADER, VS));
      gl.attachShader(p, make(gl.FRAGMENT_SHADER, FS));
      gl.linkProgram(p);
      if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
      gl.useProgram(p);
      const buffer = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]), gl.STATIC_DRAW);
      const loc = gl.getAttribLocation(p, "corner");
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
      gl.uniform1i(gl.getUniformLocation(p, "image"), 0);
      return p;
    }
    function pixels(im, w, h) {
      const c = document.createElement("canvas");
      c.width = w; c.height = h;
      const g = c.getContext("2d", { willReadFrequently: true });
      g.drawImage(im, 0, 0, w, h);
      return g.getImageData(0, 0, w, h).data;
    }
    // The layer as one RGBA texture, its reveal field in the alpha channel (as stack.py's pyramid).
    function upload(im, field) {
      const scale = Math.min(1, maxSize / Math.max(im.width, im.height));   // respect MAX_TEXTURE_SIZE
      const c = { width: Math.max(1, Math.floor(im.width * scale)), height: Math.max(1, Math.floor(im.height * scale)) };
      let lv = { w: c.width, h: c.height, data: pixels(im, c.width, c.height) };
      if (field) {
        const m = pixels(field, c.width, c.height);
        for (let i = 3; i < lv.data.length; i += 4) lv.data[i] = m[i - 3];
      }
      const top = Math.max(0, Math.floor(Math.log2(Math.min(lv.w, lv.h) / 2)));
      const t = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, t);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.texStorage2D(gl.TEXTURE_2D, top + 1, gl.RGBA8, lv.w, lv.h);
      for (let n = 0; n <= top; n++) {
        const fw = Math.max(1, Math.floor(c.width / 2 ** n)), fh = Math.max(1, Math.floor(c.height / 2 ** n));
        gl.texSubImage2D(gl.TEXTURE_2D, n, 0, 0, fw, fh, gl.RGBA, gl.UNSIGNED_BYTE, crop(lv, fw, fh));
        if (n < top) lv = pyrDown(lv);
      }
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAX_LEVEL, top);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.MIRRORED_REPEAT);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.MIRRORED_REPEAT);
      t.top = top;
      return t;
    }
    function texture(k) {
      if (!textures.has(k)) {
        const e = images.get(k);
        textures.set(k, { image: upload(e.image, e.reveal) });
      }
      return textures.get(k);
    }
    const u = (name) => gl.getUniformLocation(program, name);
    return {
      name: "webgl2",
      resize() {
        if (!program) program = compile();
        gl.viewport(0, 0, vw, vh);
        gl.uniform2f(u("viewport"), vw, vh);
      },
      drop(k) {
        const t = textures.get(k);
        if (t) { gl.deleteTexture(t.image); textures.delete(k); }
      },
      draw(v, drawn) {
        gl.disable(gl.BLEND);
        drawn.forEach((j, i) => {
          const l = placed[j], t = texture(l.k), b = band(j, v);
          const left = (l.cx - l.width / 2 - v.cx) / v.pixel + vw / 2, top = (l.cy - l.height / 2 - v.cy) / v.pixel + vh / 2;
          const perFrame = l.width / l.w / v.pixel;                       // frame px per layer px
          const box = i === 0 ? [0, 0, vw, vh] : [left, top, left + l.width / v.pixel, top + l.height / v.pixel];
          if (i === 1) { gl.enable(gl.BLEND); gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA); }
          gl.activeTexture(gl.TEXTURE0); gl.bindTexture(gl.TEXTURE_2D, t.image);
          gl.uniform4f(u("box"), box[0], box[1], box[2], box[3]);
          gl.uniform4f(u("place"), left, top, 1 / perFrame, i === 0 ? 1 : 0);
          gl.uniform2f(u("size"), l.w, l.h);
          gl.uniform4f(u("widths"), b[0], b[1], b[2], b[3]);
          const c = i > 0 ? cover(j, v) : 0;
          gl.uniform1f(u("zoned"), c > 0 ? 1 : 0);
          gl.uniform1f(u("boundary"), boundary(c));
          gl.uniform2f(u("reveal"), data.reveal.reach, data.reveal.rho);
          gl.uniform1f(u("lod"), Math.max(0, Math.log2(1 / perFrame)));
          gl.uniform1f(u("top"), t.image.top);
          gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
        });
      },
    };
  }

  // ---- canvas-2D fallback: the same layers and placements, hard-edged, browser-filtered ------
  function canvas2d() {
    const ctx = canvas.getContext("2d");
    if (!ctx) return null;
    return {
      name: "canvas2d",
      resize() {},
      drop() {},
      draw(v, drawn) {
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = "high";
        for (const j of drawn) {
          const l = placed[j], e = images.get(l.k);
          const left = (l.cx - l.width / 2 - v.cx) / v.pixel + vw / 2, top = (l.cy - l.height / 2 - v.cy) / v.pixel + vh / 2;
          ctx.drawImage(e.image, left, top, l.width / v.pixel, l.height / v.pixel);
        }
      },
    };
  }

  let backend = null;
  try {
    if (params.get("renderer") !== "canvas") backend = webgl2();
  } catch (err) { backend = null; }
  if (!backend) backend = canvas2d();
  if (!backend) {
    message.textContent = "This browser can draw neither WebGL 2 nor a 2D canvas, so the zoom cannot be shown.";
    message.style.display = "flex";
    return;
  }
  api.backend = backend.name;

  // ---- motion ---------------------------------------------------------------------------------
  const path = data.path;                          // depths per frame at path.fps (the render's timeline)
  const reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let position = path.depths[0], clock = 0, playing = !reduced, direction = 1, speed = 1;
  let last = null, pending = [], drawing = false;

  // The depth after frame i's (a closed loop's depths run on past `steps` into the next period).
  function next(d, i) {
    const b = d[(i + 1) % d.length];
    return loop && b < d[i] - steps / 2 ? b + steps : loop && b > d[i] + steps / 2 ? b - steps : b;
  }
  function depthAt(time) {
    const d = path.depths, f = ((time * path.fps) % d.length + d.length) % d.length;
    const i = Math.floor(f), a = f - i;
    return wrap(d[i] * (1 - a) + next(d, i) * a);
  }
  function clockFor(z) {     // the first time on the timeline at depth z (so play resumes from here)
    const d = path.depths;
    for (let i = 0; i + 1 < d.length + (loop ? 1 : 0); i++) {
      const b = next(d, i);
      if ((d[i] - z) * (b - z) <= 0 && d[i] !== b) return (i + (z - d[i]) / (b - d[i])) / path.fps;
    }
    return 0;
  }

  function frame() {
    const v = view(position);
    const drawn = visible(v);
    const shown = [...new Set(drawn.map((i) => placed[i].k))];
    const needed = [...shown];   // and the next layer each way, read ahead while there is room
    for (const i of [drawn[0] + 1, drawn[drawn.length - 1] - 1]) {
      if (i >= 0 && i < placed.length && needed.length < RESIDENT && !needed.includes(placed[i].k)) needed.push(placed[i].k);
    }
    needed.forEach(want);
    keepOnly(needed);
    const waits = shown.map((k) => images.get(k).loaded);
    return Promise.all(waits).then(() => {
      if (drawn.join() !== visible(view(position)).join()) return frame();   // moved meanwhile
      backend.draw(v, drawn);
      slider.value = position / steps;
    });
  }

  function tick(now) {
    if (last !== null && playing) {
      clock += direction * speed * (now - last) / 1000;
      position = depthAt(clock);
    }
    last = now;
    if (!drawing) {
      drawing = true;
      const waiting = pending;
      pending = [];
      frame().then(() => { drawing = false; waiting.forEach((r) => r()); }, (err) => { drawing = false; console.warn(err); });
    }
    requestAnimationFrame(tick);
  }

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    vw = Math.max(1, Math.round(canvas.clientWidth * ratio));
    vh = Math.max(1, Math.round(canvas.clientHeight * ratio));
    canvas.width = vw; canvas.height = vh;
    fitWidths();
    backend.resize();
  }

  function setPosition(z) {
    position = wrap(Number(z));
    clock = clockFor(position);
    return api.frame();
  }

  // ---- controls -------------------------------------------------------------------------------
  const bar = document.getElementById("bar"), playButton = document.getElementById("play");
  const slider = document.getElementById("position"), speedInput = document.getElementById("speed");
  let hideTimer = null;
  function showBar() {
    bar.classList.add("shown");
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => bar.classList.remove("shown"), 2500);
  }
  function setPlaying(on) {
    playing = on;
    playButton.innerHTML = on ? "&#10074;&#10074;" : "&#9654;";
  }
  playButton.addEventListener("click", () => setPlaying(!playing));
  speedInput.addEventListener("input", () => { speed = Number(speedInput.value); });
  slider.addEventListener("input", () => { setPlaying(false); setPosition(Number(slider.value) * steps); });
  window.addEventListener("pointermove", showBar);
  window.addEventListener("wheel", (e) => {
    e.preventDefault();
    setPosition(position + e.deltaY * -0.002);      // wheel down (toward you) zooms out, up zooms in
  }, { passive: false });
  const touches = new Map();
  let pinch = null;
  canvas.addEventListener("pointerdown", (e) => { touches.set(e.pointerId, [e.clientX, e.clientY]); });
  canvas.addEventListener("pointerup", (e) => { touches.delete(e.pointerId); pinch = null; });
  canvas.addEventListener("pointercancel", (e) => { touches.delete(e.pointerId); pinch = null; });
  canvas.addEventListener("pointermove", (e) => {
    if (!touches.has(e.pointerId)) return;
    touches.set(e.pointerId, [e.clientX, e.clientY]);
    if (touches.size !== 2) return;
    const [a, b] = [...touches.values()], spread = Math.hypot(a[0] - b[0], a[1] - b[1]);
    if (pinch) setPosition(position + Math.log(spread / pinch) / Math.log(data.zoom || 2));
    pinch = spread;
  });
  window.addEventListener("keydown", (e) => {
    const keys = {
      " ": () => setPlaying(!playing),
      ArrowUp: () => setPosition(position + 0.1), ArrowRight: () => setPosition(position + 0.1),
      "+": () => setPosition(position + 0.1), "=": () => setPosition(position + 0.1),
      ArrowDown: () => setPosition(position - 0.1), ArrowLeft: () => setPosition(position - 0.1),
      "-": () => setPosition(position - 0.1),
      r: () => { direction = -direction; },
      Home: () => setPosition(0), End: () => setPosition(steps),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); showBar(); }
  });
  window.addEventListener("resize", () => { resize(); });

  Object.assign(api, {
    setPosition,
    getPosition: () => position,
    play: () => setPlaying(true),
    pause: () => setPlaying(false),
    isPlaying: () => playing,
    frame: () => new Promise((resolve) => { pending.push(resolve); }),
    layers: n,
    resident: () => images.size,
  });

  setPlaying(playing);
  resize();
  api.frame().then(() => readyResolve());
  requestAnimationFrame(tick);
})();
