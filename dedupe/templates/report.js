// The page's script: draws the groups and topics from the report's JSON data, a page at a time.
// Story text goes into the page as text nodes only (append, textContent), never as markup, and a
// link only when it is http(s): see dedupe/report_html.py.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const checking = data.kind === "check";
  // Panels drawn at a time, rows of a group's table and titles of a topic shown before a button,
  // characters of a passage quoted in the evidence.
  const PAGE = 20;
  const ROWS = 50;
  const TITLES = 200;
  const QUOTED = 240;
  const LETTER = /[\p{L}\p{Nd}]/u;
  const UNSPACED = /^[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}\p{sc=Tibetan}]$/u;
  const RELATION_ORDER = [
    "already published", "new", "duplicate", "syndicated", "exact", "near-duplicate", "teaser",
  ];

  const story = (key) => data.stories[key] || { t: "" };
  const keyOf = (member) => member.key || member.id;

  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child !== null && child !== undefined && child !== "") node.append(child);
    }
    return node;
  }

  function safeHref(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function link(url) {
    const href = safeHref(url);
    if (!href) return null;
    const anchor = el("a", "link", "open");
    anchor.href = href;
    anchor.title = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function cssName(text) {
    return text.replace(/[^a-z-]/g, "-");
  }

  function badge(relation) {
    return el("span", "badge rel-" + cssName(relation), relation);
  }

  function shortDate(iso) {
    return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/, "$2") : "";
  }

  function timeOf(iso) {
    const time = iso ? Date.parse(iso) : NaN;
    return Number.isNaN(time) ? null : time;
  }

  function plural(number, one, many) {
    return number.toLocaleString("en") + " " + (number === 1 ? one : many);
  }

  // --- the shared passages, found in each text whatever its case, spacing and punctuation ----

  // The letters and digits of a text, case-folded and without accents, and for each unit of that
  // key where it stands in the text: a passage as dedupe wrote it ("over 52000 work permits")
  // is then found in either story ("over 52,000 work permits").
  function folded(text) {
    let key = "";
    const starts = [];
    const ends = [];
    let at = 0;
    for (const character of text) {
      const next = at + character.length;
      for (const unit of character.normalize("NFKD").toLowerCase()) {
        if (!LETTER.test(unit)) continue;
        key += unit;
        for (let n = 0; n < unit.length; n++) {
          starts.push(at);
          ends.push(next);
        }
      }
      at = next;
    }
    return { key, starts, ends };
  }

  // Tokens of scripts written without spaces are overlapping pairs of characters ("中国 国人"):
  // each pair adds one character to the passage.
  function unpaired(passage) {
    const tokens = passage.split(" ");
    let text = tokens[0] || "";
    for (let n = 1; n < tokens.length; n++) {
      const before = [...tokens[n - 1]];
      const pair = [...tokens[n]];
      const overlaps = pair.length === 2 && pair.every((c) => UNSPACED.test(c))
        && before[before.length - 1] === pair[0];
      text += overlaps ? pair[1] : " " + tokens[n];
    }
    return text;
  }

  // Whether a match may begin or end between these two characters: not inside a word of a spaced
  // script ("over 52,000" is not the end of "hover 52,000"); anywhere in one written without
  // spaces, whose words dedupe does not know.
  function boundary(inside, outside) {
    return outside === undefined || !LETTER.test(outside) || UNSPACED.test(inside)
      || UNSPACED.test(outside);
  }

  function spans(text, passages) {
    if (!text || !passages.length) return [];
    const haystack = folded(text);
    const found = [];
    passages.forEach((passage, number) => {
      const needle = folded(unpaired(passage)).key;
      if (needle.length < 4) return;
      let from = 0;
      for (;;) {
        const at = haystack.key.indexOf(needle, from);
        if (at === -1) break;
        const start = haystack.starts[at];
        const end = haystack.ends[at + needle.length - 1];
        if (boundary(text[start], text[start - 1]) && boundary(text[end - 1], text[end])) {
          found.push([start, end, number]);
          from = at + needle.length;
        } else {
          from = at + 1;
        }
      }
    });
    found.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
    const kept = [];
    let reached = 0;
    for (const span of found) {
      if (span[0] >= reached) {
        kept.push(span);
        reached = span[1];
      }
    }
    return kept;
  }

  function marked(text, passages) {
    const nodes = [];
    let at = 0;
    for (const [start, end, number] of spans(text, passages)) {
      if (start > at) nodes.push(text.slice(at, start));
      const mark = el("mark", "shared p" + (number % 3), text.slice(start, end));
      mark.title = "shared passage " + (number + 1);
      nodes.push(mark);
      at = end;
    }
    if (at < text.length) nodes.push(text.slice(at));
    return nodes;
  }

  // --- groups ----------------------------------------------------------------------------------

  const groups = data.groups.map((group, order) => {
    const scores = group.members.filter((m) => typeof m.score === "number").map((m) => m.score);
    const sources = new Set();
    for (const member of group.members) {
      const source = story(keyOf(member)).s;
      if (source) sources.add(source);
    }
    return {
      group,
      order,
      size: group.members.length,
      weakest: scores.length ? scores.reduce((a, b) => Math.min(a, b)) : null,
      strongest: scores.length ? scores.reduce((a, b) => Math.max(a, b)) : null,
      time: timeOf(story(group.canonical).d),
      sources,
      relations: new Set([group.relation, ...group.members.map((m) => m.relation)]),
      haystack: null,
    };
  });

  // Groups without a score (a new draft) or a date sort last, ties in the report's order.
  const SORTS = {
    "size": (x, y) => (checking ? 0 : y.size - x.size) || x.order - y.order,
    "score-low": (x, y) => (x.weakest ?? 2) - (y.weakest ?? 2) || x.order - y.order,
    "score-high": (x, y) => (y.strongest ?? -1) - (x.strongest ?? -1) || x.order - y.order,
    "date-new": (x, y) => (y.time ?? -Infinity) - (x.time ?? -Infinity) || x.order - y.order,
    "date-old": (x, y) => (x.time ?? Infinity) - (y.time ?? Infinity) || x.order - y.order,
  };

  function haystackOf(item) {
    if (item.haystack === null) {
      item.haystack = item.group.members
        .map((m) => {
          const s = story(keyOf(m));
          return m.id + "\n" + s.t + "\n" + (s.x || "");
        })
        .join("\n")
        .toLowerCase();
    }
    return item.haystack;
  }

  const controls = {
    relation: document.getElementById("relation"),
    source: document.getElementById("source"),
    search: document.getElementById("search"),
    sort: document.getElementById("sort"),
  };

  function option(value, text) {
    const node = el("option", null, text);
    node.value = value;
    return node;
  }

  function fillChoices() {
    const relations = new Set(groups.flatMap((item) => [...item.relations]));
    for (const relation of RELATION_ORDER) {
      if (relations.has(relation)) controls.relation.append(option(relation, relation));
    }
    const counts = new Map();
    for (const item of groups) {
      for (const source of item.sources) counts.set(source, (counts.get(source) || 0) + 1);
    }
    const sources = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    for (const [source, count] of sources) {
      controls.source.append(option(source, source + " (" + count.toLocaleString("en") + ")"));
    }
    controls.source.disabled = !sources.length;
  }

  function memberRow(group, member) {
    const s = story(keyOf(member));
    const title = el("td", "title", s.t || member.id);
    if (s.o) title.append(el("span", "origin", s.o));
    title.append(el("span", "id", member.id));
    const score = typeof member.score === "number" ? member.score.toFixed(2) : "";
    return el(
      "tr",
      keyOf(member) === group.canonical ? "canonical" : null,
      el("td", null, badge(member.relation)),
      title,
      el("td", "source", s.s || ""),
      el("td", "date", shortDate(s.d)),
      el("td", null, link(s.u)),
      el("td", "score", score),
    );
  }

  function membersTable(group) {
    const head = el("tr", null, ...["relation", "title", "source", "date", "link", "score"]
      .map((name) => el("th", null, name)));
    const body = el("tbody");
    const table = el("table", "members", el("thead", null, head), body);
    const add = (members) => members.forEach((m) => body.append(memberRow(group, m)));
    add(group.members.slice(0, ROWS));
    if (group.members.length <= ROWS) return table;
    const button = el("button", "more", "Show all " + plural(group.members.length, "story", "stories"));
    button.type = "button";
    button.addEventListener("click", () => {
      add(group.members.slice(ROWS));
      button.remove();
    });
    return el("div", null, table, button);
  }

  function findPair(group, a, b) {
    return group.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  }

  // The two shown first: the first copy, beside the story its relation was measured against.
  function firstTwo(group) {
    const members = group.members;
    const copy = members.findIndex((m) => keyOf(m) !== group.canonical);
    if (copy === -1) return [0, 0];
    const key = keyOf(members[copy]);
    const own = group.pairs.filter((p) => p.a === key || p.b === key);
    const withCanonical = own.find((p) => p.a === group.canonical || p.b === group.canonical);
    const best = withCanonical || own.reduce((x, y) => (x && x.score >= y.score ? x : y), null);
    const other = best ? (best.a === key ? best.b : best.a) : group.canonical;
    const left = members.findIndex((m) => keyOf(m) === other);
    return [left === -1 ? 0 : left, copy];
  }

  function picker(group, chosen) {
    const select = el("select");
    group.members.forEach((member, number) => {
      const title = story(keyOf(member)).t || member.id;
      const text = member.relation + ": " + (title.length > 70 ? title.slice(0, 69) + "…" : title);
      select.append(option(String(number), text));
    });
    select.value = String(chosen);
    return select;
  }

  function side(member, passages) {
    const s = story(keyOf(member));
    const facts = el("p", "facts", s.s || "", s.s && s.d ? " · " : "", shortDate(s.d));
    const anchor = link(s.u);
    if (anchor) facts.append(" ", anchor);
    const text = typeof s.x === "string"
      ? el("div", "text", ...marked(s.x, passages))
      : el("p", "note", "The text of this story is not in the report.");
    return el(
      "div",
      "side",
      el("h4", null, badge(member.relation), " ", s.t || member.id),
      facts,
      text,
      s.cut ? el("p", "note", "Text cut at " + s.cut.toLocaleString("en") + " characters.") : null,
    );
  }

  // A near-duplicate shares nearly its whole text: the list quotes the start of each passage,
  // the texts below show all of it marked.
  function quoted(passage) {
    if (passage.length <= QUOTED) return passage;
    const cut = passage.lastIndexOf(" ", QUOTED);
    return passage.slice(0, cut > 0 ? cut : QUOTED) + " …";
  }

  function evidence(pair, same) {
    if (same) return el("p", "note", "Pick two different stories to compare.");
    if (!pair) {
      return el("p", "note",
        "These two were not compared directly: each joined the group through another story.");
    }
    const box = el("div", "evidence", el("ul", "words", ...pair.words.map((w) => el("li", null, w))));
    if (pair.shared.length) {
      box.append(el("p", "passages-title", "Shared passages, marked in both texts:"));
      box.append(el("ol", "passages",
        ...pair.shared.map((text, n) => el("li", null, el("q", "shared p" + (n % 3), quoted(text))))));
    }
    return box;
  }

  function compare(group) {
    const [first, second] = firstTwo(group);
    const left = picker(group, first);
    const right = picker(group, second);
    const shown = el("div");
    const draw = () => {
      const a = group.members[Number(left.value)];
      const b = group.members[Number(right.value)];
      const pair = findPair(group, keyOf(a), keyOf(b));
      const passages = pair ? pair.shared : [];
      shown.replaceChildren(
        evidence(pair, keyOf(a) === keyOf(b)),
        el("div", "columns", side(a, passages), side(b, passages)),
      );
    };
    left.addEventListener("change", draw);
    right.addEventListener("change", draw);
    draw();
    return el(
      "div",
      "compare",
      el("div", "pickers", el("label", null, "Left ", left), el("label", null, "Right ", right)),
      shown,
    );
  }

  function groupCard(item) {
    const group = item.group;
    const canonical = story(group.canonical);
    const heading = el("h3", null, badge(group.relation), " ");
    if (checking) {
      heading.append(canonical.t || group.id);
      if (group.members.length > 1) {
        heading.append(el("span", "size", " · " + plural(group.members.length - 1, "match", "matches")));
      }
    } else {
      heading.append(el("span", "gid", group.id), " ", canonical.t || group.canonical,
        el("span", "size", " · " + plural(item.size, "story", "stories")));
    }
    const card = el("article", "group", heading, membersTable(group));
    card.dataset.group = group.id;
    if (group.members.length > 1) {
      card.append(compare(group));
    } else {
      card.append(el("p", "note", "No published story shares its text."));
    }
    return card;
  }

  // --- paging ----------------------------------------------------------------------------------

  function pager(list, button, line, noun, draw) {
    let items = [];
    let shown = 0;
    let total = 0;
    const more = () => {
      const next = items.slice(shown, shown + PAGE);
      for (const item of next) list.append(draw(item));
      shown += next.length;
      button.hidden = shown >= items.length;
      let text = "Showing " + shown.toLocaleString("en") + " of " + plural(items.length, noun[0], noun[1]);
      if (items.length < total) text += " (" + total.toLocaleString("en") + " in all)";
      line.textContent = text;
    };
    button.addEventListener("click", more);
    // Scrolling to the button draws the next page, as a long list would have been there.
    new IntersectionObserver((seen) => {
      if (seen.some((entry) => entry.isIntersecting) && !button.hidden) more();
    }).observe(button);
    return (chosen, all) => {
      items = chosen;
      shown = 0;
      total = all;
      list.replaceChildren();
      more();
    };
  }

  const showGroups = pager(
    document.getElementById("group-list"),
    document.getElementById("more-groups"),
    document.getElementById("shown"),
    checking ? ["draft", "drafts"] : ["group", "groups"],
    groupCard,
  );

  function query() {
    return controls.search.value.trim().toLowerCase();
  }

  function refreshGroups() {
    const relation = controls.relation.value;
    const source = controls.source.value;
    const words = query();
    const chosen = groups.filter((item) => (!relation || item.relations.has(relation))
      && (!source || item.sources.has(source))
      && (!words || haystackOf(item).includes(words)));
    chosen.sort(SORTS[controls.sort.value] || SORTS.size);
    showGroups(chosen, groups.length);
  }

  // --- topics ----------------------------------------------------------------------------------

  const topicList = document.getElementById("topic-list");
  const canonicalOf = new Map(data.groups.map((group) => [group.canonical, group]));
  const topics = data.topics.map((topic) => ({ topic, haystack: null }));

  function topicHaystack(item) {
    if (item.haystack === null) {
      const titles = item.topic.members.map((id) => story(id).t);
      item.haystack = (item.topic.label + "\n" + titles.join("\n")).toLowerCase();
    }
    return item.haystack;
  }

  function topicTitles(topic, list, from) {
    const to = Math.min(topic.members.length, from + TITLES);
    for (const id of topic.members.slice(from, to)) {
      const line = el("li", null, story(id).t || id);
      const group = canonicalOf.get(id);
      if (group) line.append(el("span", "size", " (" + group.id + ", " + plural(group.members.length, "story", "stories") + ")"));
      list.append(line);
    }
    if (to < topic.members.length) {
      const button = el("button", "more", "Show " + plural(topic.members.length - to, "more title", "more titles"));
      button.type = "button";
      button.addEventListener("click", () => {
        button.remove();
        topicTitles(topic, list, to);
      });
      list.after(button);
    }
  }

  function topicPanel(item) {
    const topic = item.topic;
    const summary = el("summary", null, el("span", "gid", topic.id), " ", topic.label,
      el("span", "size", " · " + plural(topic.members.length, "story", "stories")));
    const panel = el("details", "topic", summary);
    panel.dataset.topic = topic.id;
    // Titles are drawn when a topic is opened: thousands of topics stay cheap.
    panel.addEventListener("toggle", () => {
      if (!panel.open || panel.querySelector("ul")) return;
      const list = el("ul", "titles");
      panel.append(list);
      topicTitles(topic, list, 0);
    });
    return panel;
  }

  const showTopics = topicList && pager(
    topicList,
    document.getElementById("more-topics"),
    document.getElementById("topics-shown"),
    ["topic", "topics"],
    topicPanel,
  );

  function refreshTopics() {
    if (!showTopics) return;
    const words = query();
    const chosen = topics.filter((item) => !words || topicHaystack(item).includes(words));
    chosen.sort((x, y) => y.topic.members.length - x.topic.members.length);
    showTopics(chosen, topics.length);
  }

  // --- controls --------------------------------------------------------------------------------

  fillChoices();
  document.getElementById("controls").addEventListener("submit", (event) => event.preventDefault());
  for (const name of ["relation", "source", "sort"]) {
    controls[name].addEventListener("change", refreshGroups);
  }
  let typing = 0;
  controls.search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      refreshGroups();
      refreshTopics();
    }, 200);
  });
  refreshGroups();
  refreshTopics();
})();
