// The conversation's header: the room's name, topic and members; the seed's controls
// (接続/切断 with the status, the room-name box with 参加, 退出) and the room's settings.

import { $ } from "../dom.js";
import { fill } from "../notices.js";

export class Header {
  constructor(ctx) {
    this.ctx = ctx;
    this.els = {
      status: $("status"), connect: $("connect"), disconnect: $("disconnect"), join: $("join"),
      leave: $("leave"), room: $("current-room"), topic: $("room-topic"), members: $("member-count"),
      settings: $("room-settings"), send: $("send"), roomInput: $("room-input"),
    };
    this.state = "disconnected";
    this.els.roomInput.maxLength = ctx.settings.maxRoomLength;
  }

  status(state) {
    const { els, ctx } = this;
    this.state = state;
    els.status.className = `status ${state}`;
    els.status.textContent = ctx.t[state];
    const connected = state === "connected";
    els.connect.disabled = connected || state === "reconnecting";
    els.disconnect.disabled = !connected && state !== "reconnecting";
    els.join.disabled = !connected;
    // While reconnecting a message can still be written: it waits as pending (sent on connect).
    els.send.disabled = !connected && state !== "reconnecting";
    els.leave.disabled = !connected;
  }

  cannotConnect() {
    this.els.status.textContent = this.ctx.t.cannot_connect;
    this.els.connect.disabled = true;
  }

  // `room`: "" (everyone) or a name; `info`: its directory entry, if known.
  room(room, info) {
    const { els, ctx } = this;
    const { t, me } = ctx;
    const name = room ? (info && info.kind === "dm" && info.peer ? `@${info.peer.name}` : room) : t.no_room;
    els.room.textContent = name;
    els.leave.hidden = !room;
    els.leave.textContent = room ? `${t.leave} (${name})` : t.leave;
    els.send.textContent = room ? t.send_room : t.send;
    const topic = info && info.topic ? info.topic : "";
    els.topic.textContent = topic;
    els.topic.hidden = !topic;
    const members = info && info.kind !== "dm" ? info.members : null;
    els.members.hidden = members == null;
    els.members.textContent = members == null ? "" : fill(members === 1 ? t.member_count_one : t.member_count, { count: members });
    // A conversation's settings are its notification level only: a bell, so named.
    const dm = Boolean(info && info.kind === "dm");
    els.settings.hidden = !room || !info || me.id === null;
    els.settings.textContent = dm ? "🔔" : "⚙";
    els.settings.setAttribute("aria-label", dm ? t.notify_settings : t.room_settings);
    els.settings.title = dm ? t.notify_settings : t.room_settings;
    document.title = ctx.baseTitle = room ? `${name} · ${t.title}` : t.title;
  }
}
