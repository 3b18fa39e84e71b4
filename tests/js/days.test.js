import { test } from "node:test";
import assert from "node:assert/strict";
import { continues, dayKey, dayLabel, layout } from "../../static/js/days.js";

const at = (h, m, d = 10) => new Date(2026, 0, d, h, m).toISOString();
const m = (id, user, ts, extra = {}) => ({ id, user: { id: user, name: `u${user}` }, ts, ...extra });

test("dayKey is the local calendar day", () => {
  assert.equal(dayKey(at(23, 59)), "2026-01-10");
  assert.equal(dayKey(at(0, 1, 11)), "2026-01-11");
  assert.equal(dayKey("nonsense"), "");
});

test("layout: separators at each new day, groups of one author within 5 minutes", () => {
  const out = layout([
    m(1, 1, at(10, 0)),
    m(2, 1, at(10, 4)),
    m(3, 1, at(10, 10)),
    m(4, 2, at(10, 11)),
    m(5, 2, at(0, 1, 11)),
    { id: 6, type: "join", ts: at(0, 2, 11) },
    m(7, 2, at(0, 3, 11)),
  ]);
  assert.deepEqual(out.map((x) => x.newDay), [true, false, false, false, true, false, false]);
  assert.deepEqual(out.map((x) => x.grouped), [false, true, false, false, false, false, false]);
});

test("continues: the same decision for one line", () => {
  assert.equal(continues(m(1, 1, at(10, 0)), m(2, 1, at(10, 5))), true);
  assert.equal(continues(m(1, 1, at(10, 0)), m(2, 1, at(10, 6))), false);
  assert.equal(continues(m(1, 1, at(10, 0)), m(2, 2, at(10, 1))), false);
  assert.equal(continues(null, m(2, 2, at(10, 1))), false);
  const guest = (id, name) => ({ id, user: { id: null, name }, ts: at(10, 0) });
  assert.equal(continues(guest(1, "g1"), guest(2, "g1")), true);
  assert.equal(continues(guest(1, "g1"), guest(2, "g2")), false);
});

test("dayLabel: today and yesterday by name, other days as dates", () => {
  const today = new Date(2026, 0, 11, 12);
  const strings = { today: "Today", yesterday: "Yesterday" };
  assert.equal(dayLabel("2026-01-11", { today, strings }), "Today");
  assert.equal(dayLabel("2026-01-10", { today, strings }), "Yesterday");
  assert.match(dayLabel("2026-01-05", { today, strings, lang: "en" }), /January/);
  assert.match(dayLabel("2025-01-05", { today, strings, lang: "en" }), /2025/);
});
