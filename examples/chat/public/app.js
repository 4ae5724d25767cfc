// The browser side of the chat: one WebSocket to /ws, one line per message either way.
// Every line from the server is untrusted text: it is shown with textContent, so a message such
// as "<img src=x onerror=...>" appears as those characters and never becomes markup.
const log = document.getElementById("log");
const status = document.getElementById("status");
const form = document.getElementById("say");
const input = document.getElementById("line");
const MAX_LINES = 500;
let socket;
// Replayed after a reconnect (the replica we were on stopped): same nick, same room.
let nick;
let room;

function show(text) {
  const item = document.createElement("li");
  item.textContent = text;
  if (text.startsWith("* ")) item.className = "notice";
  log.append(item);
  while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
  item.scrollIntoView({ block: "end" });
}

function connect() {
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  socket.addEventListener("open", () => {
    status.textContent = "connected";
    if (nick) socket.send(`/nick ${nick}`);
    if (room) socket.send(`/join ${room}`);
  });
  socket.addEventListener("message", (event) => show(String(event.data)));
  socket.addEventListener("close", (event) => {
    status.textContent = "disconnected: reconnecting…";
    if (event.code !== 1000) setTimeout(connect, 1000);
    else status.textContent = "disconnected";
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = input.value;
  if (line.trim() === "" || socket.readyState !== WebSocket.OPEN) return;
  const [word, arg] = line.trim().split(/\s+/, 2);
  if (word === "/nick" && arg) nick = arg;
  if (word === "/join" && arg) room = arg;
  socket.send(line);
  input.value = "";
});

connect();
