// The game in a browser: join a room over a WebSocket, send the direction held (arrow keys or
// WASD), draw each snapshot the room sends at its tick rate. Names are drawn with fillText and
// listed with textContent, never as markup. The key the server gives is kept for this tab, so a
// reconnect (the gateway replica went, the network blinked) takes the same player back.
const CELL = 16;
const $ = (id) => document.getElementById(id);
const canvas = $("world");
const draw = canvas.getContext("2d");
let socket = null;
let me = null;
let held = { dx: 0, dy: 0 };
let retry = 0;
let leaving = false;

const KEYS = {
  ArrowLeft: [-1, 0],
  a: [-1, 0],
  ArrowRight: [1, 0],
  d: [1, 0],
  ArrowUp: [0, -1],
  w: [0, -1],
  ArrowDown: [0, 1],
  s: [0, 1],
};
const down = new Set();

function status(text) {
  $("status").textContent = text;
}

function connect() {
  const name = $("name").value, room = $("room").value;
  const key = sessionStorage.getItem(`key:${room}`);
  const query = new URLSearchParams({ room, name, ...(key ? { key } : {}) });
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
  leaving = false;
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.t === "welcome") {
      me = m.id;
      retry = 0;
      sessionStorage.setItem(`key:${m.room}`, m.key);
      $("leave").disabled = false;
    } else if (m.t === "state") {
      render(m);
      status(`room ${m.room} · tick ${m.tick} · room on ${m.instance}`);
    } else if (m.t === "error") {
      status(`refused: ${m.reason}`);
    }
  };
  socket.onclose = () => {
    $("leave").disabled = true;
    if (leaving) return status("left");
    // The gateway replica went (or the network): come back with the same key.
    retry = Math.min(retry + 1, 5);
    status(`disconnected; reconnecting in ${retry * 500} ms`);
    setTimeout(connect, retry * 500);
  };
}

function render(state) {
  draw.clearRect(0, 0, canvas.width, canvas.height);
  const list = $("players");
  list.replaceChildren();
  for (const p of state.players) {
    draw.fillStyle = `hsl(${p.color} 70% 55%)`;
    draw.fillRect(p.x * CELL + 1, p.y * CELL + 1, CELL - 2, CELL - 2);
    if (p.id === me) {
      draw.strokeStyle = "#fff";
      draw.strokeRect(p.x * CELL, p.y * CELL, CELL, CELL);
    }
    draw.fillStyle = "#ddd";
    draw.fillText(p.name, p.x * CELL, p.y * CELL - 2);
    const item = document.createElement("li");
    item.textContent = `${p.id === me ? "▶ " : "  "}${p.name} (${p.x}, ${p.y})`;
    list.append(item);
  }
}

function sendHeld() {
  let dx = 0, dy = 0;
  for (const k of down) [dx, dy] = [dx || KEYS[k][0], dy || KEYS[k][1]];
  if (dx === held.dx && dy === held.dy) return;
  held = { dx, dy };
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ t: "move", dx, dy }));
}

addEventListener("keydown", (event) => {
  if (!(event.key in KEYS) || event.target.tagName === "INPUT") return;
  event.preventDefault();
  down.add(event.key);
  sendHeld();
});
addEventListener("keyup", (event) => {
  if (!(event.key in KEYS)) return;
  down.delete(event.key);
  sendHeld();
});

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  if (socket) {
    leaving = true;
    socket.close(1000, "switching rooms");
  }
  connect();
});
$("leave").addEventListener("click", () => {
  leaving = true;
  socket?.close(1000, "bye");
});
