// The demo page: a small stand-in for the Discord client (see musicbot/demo/web.py).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { members: [], me: null, commands: [], version: -1, suggestions: [],
                selected: -1, suggestFor: "", quietUntilTyped: false };
const audioInfo = { level: 0, pitch: 0, pitches: [], listening: false };
window.demoAudio = audioInfo;  // read by the browser test

function me() { return state.members.find((m) => m.id === state.me) || state.members[0]; }
function isVi() { return (me() || {}).locale === "vi"; }
function nameOf(spec) {
  const vi = (spec.name_localizations || {}).vi;
  return isVi() && vi ? vi : spec.name;
}
function descOf(spec) {
  const vi = (spec.description_localizations || {}).vi;
  return isVi() && vi ? vi : (spec.description || "");
}
function namesOf(spec) {
  const vi = (spec.name_localizations || {}).vi;
  return vi ? [spec.name, vi] : [spec.name];
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// ------------------------------------------------------------------ messages

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// A little of Discord's markdown: **bold**, `code`, [text](http link); the rest as typed.
function markdown(text) {
  const out = document.createDocumentFragment();
  String(text).split(/(\*\*[^*]+\*\*|`[^`]+`|\[[^\]]+\]\(https?:[^)\s]+\))/).forEach((part) => {
    const link = /^\[([^\]]+)\]\((https?:[^)\s]+)\)$/.exec(part);
    if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
      out.appendChild(el("strong", "", part.slice(2, -2)));
    } else if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) {
      out.appendChild(el("code", "", part.slice(1, -1)));
    } else if (link) {
      const a = el("a", "", link[1]);
      a.href = link[2]; a.target = "_blank"; a.rel = "noopener noreferrer";
      out.appendChild(a);
    } else if (part) {
      out.appendChild(document.createTextNode(part.replace(/<@(\d+)>/g, (_, id) => {
        const who = state.members.find((m) => m.id === id);
        return "@" + (who ? who.name : id);
      })));
    }
  });
  return out;
}

function renderEmbed(embed) {
  const box = el("div", "embed");
  if (embed.color) box.style.borderLeftColor = "#" + embed.color.toString(16).padStart(6, "0");
  if (embed.author && embed.author.name) box.appendChild(el("div", "author-line", embed.author.name));
  if (embed.title) box.appendChild(el("div", "title")).appendChild(markdown(embed.title));
  if (embed.description) {
    box.appendChild(el("div", "description")).appendChild(markdown(embed.description));
  }
  for (const field of embed.fields || []) {
    box.appendChild(el("div", "field-name")).appendChild(markdown(field.name));
    box.appendChild(el("div", "field-value")).appendChild(markdown(field.value));
  }
  if (embed.footer && embed.footer.text) box.appendChild(el("div", "footer", embed.footer.text));
  return box;
}

function press(message, component, values) {
  const body = { member: state.me, message_id: message.id, custom_id: component.custom_id,
                 component_type: component.type, values: values || [] };
  api("/api/component", body).catch(showError);
}

function renderComponents(message) {
  const box = document.createDocumentFragment();
  for (const row of message.components || []) {
    const line = el("div", "row");
    for (const c of row.components || []) {
      if (c.type === 2) {
        const label = [c.emoji && c.emoji.name, c.label].filter(Boolean).join(" ");
        const button = el("button", "style-" + (c.style || 2), label || c.custom_id);
        button.type = "button";
        button.disabled = Boolean(c.disabled) || !c.custom_id;
        button.dataset.customId = c.custom_id || "";
        button.addEventListener("click", () => press(message, c));
        line.appendChild(button);
      } else if (c.type === 3) {
        const select = el("select");
        select.dataset.customId = c.custom_id;
        select.appendChild(el("option", "", c.placeholder || "Make a selection")).value = "";
        for (const option of c.options || []) {
          const item = el("option", "", option.label + (option.description ? " — " + option.description : ""));
          item.value = option.value;
          select.appendChild(item);
        }
        select.addEventListener("change", () => {
          if (select.value) press(message, c, [select.value]);
        });
        line.appendChild(select);
      }
    }
    box.appendChild(line);
  }
  return box;
}

function renderMessage(message) {
  const box = el("div", "message");
  box.id = "msg-" + message.id;
  const flags = message.flags || 0;
  const meta = el("div", "meta");
  meta.appendChild(el("span", "author", "MusicBot"));
  if (message.invoker) {
    meta.appendChild(el("span", "", message.invoker.name + " used /" + message.invoker.command));
  }
  if (message.edited_timestamp) meta.appendChild(el("span", "edited", "(edited)"));
  if (flags & 64) {
    box.classList.add("ephemeral-msg");
    meta.appendChild(el("span", "ephemeral", "👁 Only you can see this"));
  }
  box.appendChild(meta);
  if (flags & 128) box.appendChild(el("div", "content thinking", "MusicBot is thinking…"));
  if (message.content) box.appendChild(el("div", "content")).appendChild(markdown(message.content));
  for (const embed of message.embeds || []) box.appendChild(renderEmbed(embed));
  box.appendChild(renderComponents(message));
  box.dataset.signature = JSON.stringify(message);
  return box;
}

function renderMessages(messages) {
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const wanted = messages.filter((m) => !m.visible_to || m.visible_to === state.me);
  const keep = new Set(wanted.map((m) => "msg-" + m.id));
  for (const node of Array.from(list.children)) if (!keep.has(node.id)) node.remove();
  let previous = null;
  for (const message of wanted) {
    let node = $("msg-" + message.id);
    const signature = JSON.stringify(message);
    if (!node || node.dataset.signature !== signature) {
      const fresh = renderMessage(message);
      if (node) node.replaceWith(fresh); else list.appendChild(fresh);
      node = fresh;
    }
    if (previous && previous.nextSibling !== node) previous.after(node);
    previous = node;
  }
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function renderVoice(voice) {
  const list = $("voice-members");
  list.textContent = "";
  for (const who of voice) {
    const item = el("li", who.bot ? "bot" : "", who.name);
    list.appendChild(item);
  }
}

let lastSnapshot = null;
async function poll() {
  for (;;) {
    try {
      const snap = await api("/api/messages?after=" + state.version);
      state.version = snap.version;
      lastSnapshot = snap;
      renderMessages(snap.messages);
      renderVoice(snap.voice);
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

// ------------------------------------------------------------------ composer

function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

function specFor(word) {
  const w = word.toLowerCase();
  return state.commands.find((c) => namesOf(c).some((n) => n.toLowerCase() === w));
}

function optionsOf(spec, words) {
  const subs = (spec.options || []).filter((o) => o.type === 1);
  if (!subs.length) return { options: spec.options || [], subs: [] };
  const sub = words[1] && subs.find((s) => namesOf(s).some((n) => n.toLowerCase() === words[1].toLowerCase()));
  return { options: sub ? sub.options || [] : [], subs: sub ? [] : subs };
}

function showSuggestions(items) {
  state.suggestions = items;
  state.selected = items.length ? 0 : -1;
  const list = $("suggestions");
  list.textContent = "";
  items.forEach((item, i) => {
    const li = el("li", i === state.selected ? "selected" : "");
    li.appendChild(el("span", "label", item.label));
    if (item.what) li.appendChild(el("span", "what", item.what));
    li.addEventListener("mousedown", (event) => { event.preventDefault(); accept(i); });
    list.appendChild(li);
  });
  list.hidden = items.length === 0;
}

function moveSelection(delta) {
  if (!state.suggestions.length) return;
  state.selected = (state.selected + delta + state.suggestions.length) % state.suggestions.length;
  Array.from($("suggestions").children).forEach((li, i) => li.classList.toggle("selected", i === state.selected));
}

function quote(value) { return /\s/.test(value) ? '"' + value.replace(/"/g, "") + '"' : value; }

function accept(i) {
  const item = state.suggestions[i];
  if (!item) return;
  $("input").value = item.line;
  state.quietUntilTyped = !item.more;
  showSuggestions([]);
  $("input").focus();
  if (item.more) refresh();
}

let pending = 0;
async function refresh() {
  const line = $("input").value;
  showError(null);
  if (!line.startsWith("/")) { showSuggestions([]); $("hint").textContent = ""; return; }
  const words = line.slice(1).split(/\s+/);
  const typingName = words.length === 1;
  if (typingName) {
    const prefix = words[0].toLowerCase();
    const items = [];
    for (const spec of state.commands) {
      if (namesOf(spec).some((n) => n.toLowerCase().startsWith(prefix))) {
        items.push({ label: "/" + nameOf(spec), what: descOf(spec), line: "/" + nameOf(spec) + " ",
                     more: true });
      }
    }
    showSuggestions(items.slice(0, 25));
    $("hint").textContent = "";
    return;
  }
  const spec = specFor(words[0]);
  if (!spec) { showSuggestions([]); $("hint").textContent = "unknown command"; return; }
  const { options, subs } = optionsOf(spec, words);
  if (subs.length) {
    const prefix = (words[1] || "").toLowerCase();
    showSuggestions(subs.filter((s) => namesOf(s).some((n) => n.toLowerCase().startsWith(prefix)))
      .map((s) => ({ label: nameOf(s), what: descOf(s), line: "/" + words[0] + " " + nameOf(s) + " ",
                     more: true })));
    return;
  }
  $("hint").textContent = options.map((o) => (o.required ? "" : "[") + nameOf(o) + (o.required ? "" : "]")
    + " — " + descOf(o)).join("   ·   ");
  if (state.quietUntilTyped) return;
  const ticket = ++pending;
  await new Promise((resolve) => setTimeout(resolve, 250));
  if (ticket !== pending) return;
  let answer;
  try {
    answer = await api("/api/autocomplete", { member: state.me, line });
  } catch (err) { showError(err); return; }
  if (ticket !== pending || $("input").value !== line) return;
  const head = "/" + words[0] + (spec.options && spec.options.some((o) => o.type === 1) ? " " + words[1] : "");
  const given = answer.values || {};
  showSuggestions((answer.choices || []).map((choice) => {
    const others = Object.keys(given).filter((k) => k !== answer.option);
    const parts = others.map((k) => k + "=" + quote(String(given[k])));
    const value = String(choice.value);
    parts.push(others.length ? answer.option + "=" + quote(value) : value);
    return { label: choice.name, what: value === choice.name ? "" : value,
             line: head + " " + parts.join(" "), more: false };
  }));
}

async function send() {
  const line = $("input").value.trim();
  if (!line) return;
  try {
    await api("/api/command", { member: state.me, line });
    $("input").value = "";
    $("hint").textContent = "";
    showSuggestions([]);
  } catch (err) { showError(err); }
}

function setupComposer() {
  const input = $("input");
  input.addEventListener("input", () => { state.quietUntilTyped = false; refresh(); });
  input.addEventListener("keydown", (event) => {
    const open = !$("suggestions").hidden && state.suggestions.length > 0;
    if (event.key === "ArrowDown" && open) { event.preventDefault(); moveSelection(1); }
    else if (event.key === "ArrowUp" && open) { event.preventDefault(); moveSelection(-1); }
    else if ((event.key === "Tab" || event.key === "Enter") && open && state.selected >= 0) {
      event.preventDefault(); accept(state.selected);
    } else if (event.key === "Escape") { showSuggestions([]); state.quietUntilTyped = true; }
    else if (event.key === "Enter") { event.preventDefault(); send(); }
  });
  $("composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
}

// ------------------------------------------------------------------ voice

function listen() {
  const audio = $("voice-audio");
  const button = $("listen");
  if (audioInfo.listening) {
    audio.pause(); audio.removeAttribute("src"); audio.load();
    audioInfo.listening = false; button.classList.remove("on");
    button.textContent = "🎧 Listen to the voice channel"; $("pitch").textContent = "not listening";
    return;
  }
  audio.src = "/audio.ogg?t=" + Date.now();
  audioInfo.listening = true; button.classList.add("on"); button.textContent = "🔇 Stop listening";
  if (!audioInfo.context) {
    const context = new AudioContext();
    const source = context.createMediaElementSource(audio);
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    source.connect(analyser);
    analyser.connect(context.destination);
    audioInfo.context = context; audioInfo.analyser = analyser;
    requestAnimationFrame(meter);
  }
  audioInfo.context.resume();
  audio.play().catch(showError);
}

function meter() {
  const analyser = audioInfo.analyser;
  const wave = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(wave);
  let sum = 0;
  for (const x of wave) sum += x * x;
  const rms = Math.sqrt(sum / wave.length);
  audioInfo.level = rms;
  $("meter-bar").style.width = Math.min(100, rms * 250) + "%";
  if (rms > 0.01) {
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(spectrum);
    let best = 0;
    for (let i = 1; i < spectrum.length; i++) if (spectrum[i] > spectrum[best]) best = i;
    const hz = best * audioInfo.context.sampleRate / analyser.fftSize;
    audioInfo.pitch = hz;
    audioInfo.pitches.push(Math.round(hz));
    if (audioInfo.pitches.length > 600) audioInfo.pitches.shift();
    $("pitch").textContent = "hearing ≈ " + Math.round(hz) + " Hz";
  } else if (audioInfo.listening) {
    $("pitch").textContent = "listening (silence)";
  }
  requestAnimationFrame(meter);
}

// ------------------------------------------------------------------ start

function renderMembers() {
  const select = $("member");
  select.textContent = "";
  for (const m of state.members) {
    const option = el("option", "", m.name + " — " + m.role);
    option.value = m.id;
    select.appendChild(option);
  }
  select.value = state.me;
  select.addEventListener("change", () => {
    state.me = select.value;
    localStorage.setItem("demo-member", state.me);
    if (lastSnapshot) renderMessages(lastSnapshot.messages);
    refresh();
  });
}

function renderTracks(tracks) {
  const list = $("tracks");
  for (const track of tracks) {
    const item = el("li");
    const link = el("a", "", track.title);
    link.title = track.url;
    link.dataset.url = track.url;
    link.addEventListener("click", () => {
      const input = $("input");
      input.value = "/play " + track.url;
      state.quietUntilTyped = true;
      showSuggestions([]);
      input.focus();
    });
    item.appendChild(link);
    list.appendChild(item);
  }
}

async function start() {
  const s = await api("/api/state");
  state.members = s.members;
  state.commands = s.commands;
  const saved = localStorage.getItem("demo-member");
  state.me = s.members.some((m) => m.id === saved) ? saved : s.members[0].id;
  $("guild-name").textContent = s.guild;
  $("channel-name").textContent = s.text_channel;
  $("text-channel").textContent = "# " + s.text_channel;
  $("voice-channel").textContent = "🔊 " + s.voice_channel;
  renderMembers();
  renderTracks(s.demo_tracks);
  setupComposer();
  $("listen").addEventListener("click", listen);
  poll();
}

start().catch(showError);
