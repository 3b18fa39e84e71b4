import { test } from "node:test";
import assert from "node:assert/strict";

import { isReply, OpenThread, summaryOf, ThreadStates } from "../../static/js/threads.js";

const t = { thread_reply_one: "{count} reply", thread_replies: "{count} replies" };

test("a reply is a message with a thread_id", () => {
  assert.equal(isReply({ id: 2, thread_id: 1 }), true);
  assert.equal(isReply({ id: 1 }), false);
  assert.equal(isReply({ id: 1, thread_id: null }), false);
  assert.equal(isReply(null), false);
});

test("a root's summary says how many replied and who", () => {
  assert.equal(summaryOf({ id: 1 }, t), null);
  assert.deepEqual(summaryOf({ thread: { replies: 1, participants: [{ id: 2, name: "bob" }] } }, t), { count: "1 reply", names: "bob" });
  const two = summaryOf({ thread: { replies: 2, participants: [{ id: 3, name: "carol" }, { id: 2, name: "bob" }] } }, t);
  assert.deepEqual(two, { count: "2 replies", names: "carol, bob" });
});

test("thread states follow the server: unfollowed threads leave the list, unread adds up", () => {
  const states = new ThreadStates();
  states.load([{ id: 1, room: "r", following: true, unread: 2, mentions: 0, root: { id: 1, ts: "2026-01-01T00:00:00.000+00:00" } }]);
  assert.equal(states.totalUnread(), 2);
  assert.equal(states.apply({ id: 5, room: "r", following: true, unread: 1, mentions: 1 }), true);
  assert.equal(states.totalUnread(), 3);
  states.apply({ id: 1, room: "r", following: true, unread: 0, mentions: 0 });
  assert.equal(states.get(1).unread, 0);
  assert.equal(states.get(1).root.id, 1);  // the root is kept across states
  states.apply({ id: 5, room: "r", following: false, unread: 1, mentions: 1 });
  assert.equal(states.get(5), null);
  assert.equal(states.apply({}), false);
});

test("the list puts the thread with the latest reply first", () => {
  const states = new ThreadStates();
  states.load([
    { id: 1, following: true, root: { id: 1, ts: "2026-01-01T00:00:00.000+00:00", thread: { last_reply_at: "2026-01-03T00:00:00.000+00:00" } } },
    { id: 2, following: true, root: { id: 2, ts: "2026-01-02T00:00:00.000+00:00" } },
  ]);
  assert.deepEqual(states.list().map((i) => i.id), [1, 2]);
  states.root({ id: 2, ts: "2026-01-02T00:00:00.000+00:00", thread: { last_reply_at: "2026-01-04T00:00:00.000+00:00" } });
  assert.deepEqual(states.list().map((i) => i.id), [2, 1]);
});

test("an open thread keeps its replies in id order, once each, and asks for what it missed", () => {
  const open = new OpenThread("r", 1);
  assert.deepEqual(open.request(), { room: "r", thread: 1 });
  open.page({ thread: 1, root: { id: 1 }, messages: [{ id: 3, thread_id: 1 }, { id: 5, thread_id: 1 }], has_more: true });
  assert.equal(open.hasMore, true);
  assert.equal(open.add({ id: 4, thread_id: 1 }), "added");
  assert.equal(open.add({ id: 5, thread_id: 1, text: "edited" }), "updated");
  assert.equal(open.add({ id: 9, thread_id: 2 }), "skipped");
  assert.deepEqual(open.replies.map((m) => m.id), [3, 4, 5]);
  assert.deepEqual(open.request(), { room: "r", thread: 1, since: 5 });
  open.page({ thread: 2, messages: [{ id: 7, thread_id: 2 }] });  // another thread's page: ignored
  assert.equal(open.replies.length, 3);
});

test("an open thread pages older replies before its oldest until none are left", () => {
  const open = new OpenThread("r", 1);
  assert.equal(open.older(), null);  // nothing shown yet
  open.page({ thread: 1, root: { id: 1 }, messages: [{ id: 8, thread_id: 1 }, { id: 9, thread_id: 1 }], has_more: true });
  assert.deepEqual(open.older(), { room: "r", thread: 1, before: 8 });
  open.page({ thread: 1, before: 8, messages: [{ id: 5, thread_id: 1 }, { id: 6, thread_id: 1 }], has_more: true });
  assert.deepEqual(open.replies.map((m) => m.id), [5, 6, 8, 9]);
  assert.deepEqual(open.older(), { room: "r", thread: 1, before: 5 });
  open.page({ thread: 1, before: 5, messages: [{ id: 2, thread_id: 1 }], has_more: false });
  assert.equal(open.older(), null);
  assert.deepEqual(open.request(), { room: "r", thread: 1, since: 9 });  // catch-up still from the newest
  open.page({ thread: 1, since: 9, messages: [], has_more: false });
  assert.equal(open.hasMore, false);
});
