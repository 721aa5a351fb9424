"""What a line of a runbook says: owners, thresholds, decisions, approvals, labels.

>>> [(c.metric, c.op, c.number, c.unit, c.for_seconds) for c in thresholds("Error rate > 5% sustained for 5 minutes")]
[('Error rate', '>', 5.0, '%', 300.0)]
>>> owner_field("**Owner**: SRE Lead (Launch Commander)")
'SRE Lead (Launch Commander)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runbooks.markdown_import.timing import SECONDS_PER_UNIT

_MD = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\([^)]*\)")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u25a0-\u25ff]")

OWNER_LABEL = (
    r"(?:owners?|owned by|responsible(?: party)?|accountable|who|assignee|assigned(?: to)?|dri|lead|executed by|performed by|"
    r"run by|done by|executor|approvers?|approved by|signed(?:[\s-]off)? by|sign[\s-]?off(?: by)?|decision maker|"
    r"decides|decided by|decision(?: by)?|poc|point of contact|on[\s-]?point)"
)
_OWNER_FIELD = re.compile(
    rf"(?i)^[\s>*_-]*(?:\*\*|__)?\s*(?P<label>{OWNER_LABEL})\s*(?:\*\*|__)?\s*[:=–—]\s*(?:\*\*|__)?(?P<who>.+?)(?:\*\*|__)?\s*$"
)
_OWNER_PAREN = re.compile(
    rf"(?i)[(\[]\s*(?:\*\*|__)?(?P<label>{OWNER_LABEL})(?:\*\*|__)?\s*[:=]\s*(?P<who>[^,;)\]]+?)\s*(?:[,;][^)\]]*)?[)\]]"
)
_OWNER_TAIL = re.compile(
    r"(?i)(?:^|\s[|—–-]\s*|\s)(?:\*\*|__)?(?P<label>owners?|responsible|who|assignee|dri|approver)(?:\*\*|__)?\s*:\s*(?P<who>[^|;()\[\]]+?)\s*$"
)
_MENTION_TAIL = re.compile(r"(?:\s[—–-]\s*|\s[(\[]\s*|\s)(?P<who>@[\w.-]+)\s*[)\]]?\s*$")
_NOBODY = re.compile(r"(?i)^(?:_+|-+|\?+|tbd|tba|n/?a|none|\[.*\]|<.*>|name|\.{2,}|x+)$")

_FIELD = re.compile(
    r"^[\s>*_-]*(?:\*\*|__)?\s*(?P<label>[A-Za-z][A-Za-z /&().-]{0,40}?)\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<value>.*)$"
)
EVIDENCE_LABEL = re.compile(
    r"(?i)^(?:evidence|outputs?|expected outputs?|artifacts?|proof|verification|verify|validate|done when|success(?: criteria)?|acceptance|expected result|result)$"
)
NOTE_LABEL = re.compile(
    r"(?i)^(?:notes?|note|context|why|purpose|description|details|references?|links?|see(?: also)?|docs?|documentation|dashboards?|runbook|status|date|priority|severity|due(?: date)?|deadline|version|last updated|prerequisites?|dependencies|depends on|inputs?|scope|impact|risk|comms?|communication|channel|tools?|location|url|contact|phone|email|target|goal|objective|frequency|environment|window)$"
)
COMMAND_LABEL = re.compile(r"(?i)^(?:commands?|run|script|cli|sql|query)$")
TRIGGER_LABEL = re.compile(
    r"(?i)^(?:(?:rollback|roll back|abort|halt|stop|kill|escalation)\s+)?(?:triggers?|thresholds?|conditions?|criteria|signals?)$|^(?:rollback|roll back|abort) (?:if|when)$"
)

_OPS = (
    (">=", r">=|≥|=>|at least|no less than|not less than|greater than or equal to"),
    ("<=", r"<=|≤|=<|at most|no more than|not more than|less than or equal to"),
    (
        ">",
        r">|above|exceeds?|exceeding|exceeded|over|more than|greater than|higher than|in excess of|rises? above|goes above|"
        r"spikes? (?:above|over|to)|climbs? above|jumps? (?:above|to)|increases? (?:above|beyond)|beyond",
    ),
    (
        "<",
        r"<|below|under|less than|lower than|drops? (?:below|under|to)|falls? (?:below|under|to)|dips? below|goes below|"
        r"decreases? below",
    ),
)
_OP_PATTERN = "|".join(f"(?P<op{index}>{pattern})" for index, (_, pattern) in enumerate(_OPS))
_UNITS = r"%|ms|msec|milliseconds?|s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|x|×|rps|req/s|qps|/s|/min|/sec|mb|gb|kb"
_CLAUSE = re.compile(
    rf"(?i)(?P<metric>[^<>≥≤=;|→]*?)\s*(?:\b(?:is|are|stays?|remains?|goes|gets|hits?|reaches?)\s+)?(?<![\w])(?:{_OP_PATTERN})\s*(?P<number>\d+(?:[.,]\d+)?)\s*(?P<unit>{_UNITS})?(?![\w])"
    r"(?P<baseline>\s*(?:the\s+|of\s+)?(?:baseline|normal|usual|pre[\s-]?launch(?: levels?)?|yesterday))?"
)
_FOR = re.compile(
    r"(?i)\b(?:sustained|consistently|continuously|persist(?:s|ing|ent)?|lasting|for|over|during|within|across|in)\s+(?:for\s+)?"
    r"(?:more than\s+|at least\s+|longer than\s+|over\s+|the\s+(?:last|past)\s+|a\s+|an\s+)?(?P<n>\d+(?:\.\d+)?)\s*-?\s*"
    r"(?P<unit>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b(?P<window>\s*window)?"
    r"|\(\s*(?P<pn>\d+)\s*(?P<punit>minutes?|mins?|m|seconds?|secs?|s|hours?|h)\s*\)"
    r"|\bfor\s+(?P<cn>\d+)\s+consecutive\s+(?P<cunit>minutes?|mins?|hours?|seconds?)"
)
_CLAUSE_SPLIT = re.compile(
    r"(?i)\s+or\s+|;|\s+OR\s+|,\s*(?=[A-Za-z][\w\s/-]{0,40}(?:>|<|≥|≤|above|below|exceeds|over)\s*\d)"
)
_LEADING_TRIGGER = re.compile(
    r"(?i)^.*?\b(?:if|when|whenever|once|where|should)\b\s+|^(?:[\w\s]*?(?:triggers?|thresholds?|criteria|conditions?|signals?))\s*(?:\(e\.g\.,?|e\.g\.,?|:)\s*"
)
_METRIC_NOISE = re.compile(r"(?i)^(?:any|the|our|a|an|overall|observed|sustained)\s+|[\s:,(-]+$|^[\s:,)(-]+")

ROLLBACK_WORD = re.compile(
    r"(?i)\broll(?:ing|ed)?[\s-]?back\b|\bback[\s-]?out\b|\brevert\b|\bfail[\s-]?back\b|\bfallback\b|\brestore (?:the )?previous\b"
)
HALT_WORD = re.compile(
    r"(?i)\babort\b|\bhalt\b|\bstop\b|\bpause\b|\bfreeze\b|\bno[\s-]?go\b|\bkill switch\b|\bdisable\b|\bevaluate\b|\bconsider\b|\bdecide\b|\binvestigate\b|\bhold\b"
)
WARN_WORD = re.compile(
    r"(?i)\balert(?:s|ing)?\b|\balarms?\b|\bpag(?:e|ing)\b|\bnotify\b|\bwarn(?:ing)?\b|\bescalat\w*|\bwatch\b|\bmonitor\w*"
)
LINE_TRIGGER = re.compile(
    r"(?i)\b(?:roll(?:ing)?[\s-]?back|back[\s-]?out|revert|abort|halt|stop|pause)\s+(?:immediately\s+)?(?:if|when|whenever|once|on)\b"
    r"|\btriggers?\s+(?:an?\s+)?(?:immediate\s+)?(?:roll[\s-]?back|abort|halt|revert)\b|\b(?:rollback|abort|halt|stop|kill)\s+(?:triggers?|criteria|conditions?|thresholds?)\b"
    r"|(?:→|->|=>)\s*(?:immediate\s+)?(?:roll[\s-]?back|abort|halt|revert)|\bstop conditions?\b|^\W*(?:\*\*)?triggers?(?:\*\*)?\s*:|\bif\b.*\bthen\s+(?:roll[\s-]?back|abort|halt|revert)"
    r"|\b(?:page|alert)\s+(?:if|when)\b"
)
TRIGGER_HEADING = re.compile(
    r"(?i)\b(?:roll[\s-]?back|back[\s-]?out|abort|halt|kill|stop|revert|fail[\s-]?back)\w*\b.*\b(?:triggers?|criteria|conditions?|thresholds?|signals?|when|decision)\b"
    r"|\bwhen\s+to\s+(?:roll[\s-]?back|abort|halt|stop|revert)|\b(?:triggers?|stop conditions?|abort conditions?|alert(?:s|ing)?(?:\s+(?:thresholds?|rules?|conditions?|levels?))?|alarms?|kill criteria|thresholds?|tripwires?|red lines?)\b"
)
GO_NO_GO_HEADING = re.compile(
    r"(?i)\bgo\s*/\s*no[\s-]*go\b|\bgo[\s-]+no[\s-]+go\b|\bgo[\s/-]*nogo\b|\bgates?\b|\bdecision\s+(?:points?|gates?|meeting|matrix|criteria)\b"
    r"|\b(?:launch|final|go)\s+decision\b|\b(?:pass(?:/fail)?|launch|release|readiness|acceptance|success|go[\s-]?live|entry|exit|cutover)\s+criteria\b"
    r"|\bcheckpoints?\b|\bsign[\s-]?offs?\b|\breadiness review\b|\b(?:launch|release|go[\s-]?live|deploy\w*|production|final)\s+(?:authori[sz]ation|approvals?)\b|^(?:\d+[.)]?\s*)?approvals?$|\b\w+\s+(?:lead\s+)?approvals?$"
)
APPROVAL_PHRASE = re.compile(r"(?:“|\"|‘|'|`)(?P<phrase>[A-Z][A-Z0-9]+(?:[ _-][A-Z0-9]+){1,6})(?:”|\"|’|'|`)")
APPROVAL_CONTEXT = re.compile(
    r"(?i)\b(?:approv\w*|say|says|types?|typed|typing|enters?|reply|replies|confirm\w*|authori[sz]\w*|explicitly|respond\w*|write)\b"
)
ROLES_HEADING = re.compile(
    r"(?i)\b(?:roles?|raci|team|contacts?|who'?s who|participants|staffing|war[\s-]?room|responsibilit(?:y|ies)|people|cast|personnel|on[\s-]?call)\b"
)
ESCALATION_HEADING = re.compile(
    r"(?i)\bescalat\w*|\bseverit(?:y|ies)\b|\bsev(?:erity)? levels?\b|\bincident (?:levels|priorities|response)\b|\bresponse times?\b|\bpaging\b|\bsla\b"
)
ROLLBACK_PLAN_HEADING = re.compile(
    r"(?i)\broll(?:ing)?[\s-]?back\b|\bback[\s-]?out\b|\brevert(?:ing)?\b|\bfall[\s-]?back (?:plan|procedure)\b|\bfail[\s-]?back\b"
)
ROLLBACK_PLAN_WORD = re.compile(
    r"(?i)\b(?:plan|procedures?|steps?|runbook|process|strategy|instructions|playbook|sequence|execution|how to)\b"
)
NOT_A_PLAN = re.compile(r"(?i)\b(?:system|features?|capabilit\w*|support|automat\w*|mechanism|tooling|script)\b")
NOT_ROLLBACK_PLAN = re.compile(
    r"(?i)\b(?:triggers?|criteria|conditions?|thresholds?|signals?|when\s+to|decision|drill|rehearsal|rehears\w*|test(?:ing|ed|s)?|dry[\s-]?run|readiness|ready|verified|validation|review)\b"
)
REFERENCE_HEADING = re.compile(
    r"(?i)^(?:\d+[.)]?\s*)?(?:overview|purpose|introduction|intro|background|about|summary|executive summary|scope|goals?|objectives?|non[\s-]?goals|"
    r"references?|resources|related(?: docs| documents| links)?|links|see also|glossary|appendix|faq|table of contents|contents|toc|"
    r"document (?:info(?:rmation)?|control|history)|change ?log|revision history|version history|assumptions|out of scope|"
    r"what you get|reality check|how (?:this|it) (?:relates|works)|key questions|notes?|troubleshooting|lessons learned|"
    r"what i still need|definitions|legend|checklist legend|(?:operator |useful |helpful |handy )?commands?|cheat ?sheet|environments?|architecture|tools?|dashboards?|metadata|document version|effective date)\b"
)
VERBS = frozenset(
    [
        "accept",
        "acknowledge",
        "activate",
        "add",
        "adjust",
        "align",
        "analyse",
        "analyze",
        "announce",
        "apply",
        "approve",
        "archive",
        "assemble",
        "assess",
        "assign",
        "attach",
        "audit",
        "back",
        "backup",
        "begin",
        "block",
        "book",
        "bring",
        "build",
        "bump",
        "call",
        "cancel",
        "capture",
        "change",
        "check",
        "clean",
        "clear",
        "close",
        "collect",
        "commit",
        "communicate",
        "compare",
        "complete",
        "configure",
        "confirm",
        "connect",
        "copy",
        "create",
        "cut",
        "decommission",
        "delete",
        "deploy",
        "describe",
        "destroy",
        "detach",
        "disable",
        "disconnect",
        "dispatch",
        "distribute",
        "document",
        "double",
        "download",
        "drain",
        "drop",
        "dry",
        "email",
        "enable",
        "end",
        "enforce",
        "ensure",
        "escalate",
        "establish",
        "evaluate",
        "execute",
        "expand",
        "export",
        "extend",
        "fail",
        "failover",
        "file",
        "fill",
        "finalise",
        "finalize",
        "fix",
        "flip",
        "flush",
        "follow",
        "freeze",
        "gather",
        "generate",
        "get",
        "give",
        "go",
        "grant",
        "hand",
        "handoff",
        "hold",
        "identify",
        "implement",
        "import",
        "increase",
        "inform",
        "initiate",
        "inspect",
        "install",
        "invalidate",
        "invite",
        "issue",
        "keep",
        "kick",
        "kill",
        "label",
        "launch",
        "lift",
        "load",
        "lock",
        "log",
        "mark",
        "measure",
        "merge",
        "migrate",
        "monitor",
        "move",
        "mute",
        "notify",
        "obtain",
        "open",
        "pause",
        "perform",
        "pin",
        "ping",
        "plan",
        "point",
        "populate",
        "post",
        "prepare",
        "present",
        "prime",
        "promote",
        "provide",
        "provision",
        "publish",
        "pull",
        "purge",
        "push",
        "put",
        "query",
        "rebuild",
        "reboot",
        "record",
        "redeploy",
        "redirect",
        "reduce",
        "re-enable",
        "refresh",
        "register",
        "rehearse",
        "reindex",
        "release",
        "reload",
        "remove",
        "rename",
        "renew",
        "repeat",
        "replay",
        "replicate",
        "report",
        "request",
        "reroute",
        "reset",
        "resize",
        "resolve",
        "restart",
        "restore",
        "resume",
        "retire",
        "review",
        "revoke",
        "roll",
        "rollback",
        "rotate",
        "route",
        "run",
        "save",
        "scale",
        "schedule",
        "scan",
        "seed",
        "send",
        "set",
        "setup",
        "share",
        "shut",
        "sign",
        "smoke",
        "snapshot",
        "start",
        "stop",
        "submit",
        "swap",
        "switch",
        "sync",
        "tag",
        "take",
        "tear",
        "terminate",
        "test",
        "tick",
        "toggle",
        "track",
        "trigger",
        "triage",
        "turn",
        "unblock",
        "uncordon",
        "unfreeze",
        "unlock",
        "unpause",
        "update",
        "upgrade",
        "upload",
        "use",
        "validate",
        "verify",
        "wait",
        "warm",
        "watch",
        "wipe",
        "write",
    ]
)


@dataclass(frozen=True, slots=True)
class ThresholdClause:
    """``<metric> <op> <n><unit> [sustained] for <N><unit>`` as read from a line."""

    metric: str
    op: str
    number: float
    unit: str  # as written: "%", "ms", "s", "m", "h", "x" (of baseline), or a rate unit
    for_seconds: float | None
    text: str
    baseline: bool = False


def clean(text: str) -> str:
    """Inline Markdown to plain text: links to their text, no emphasis or code marks, no trailing colon."""
    text = _LINK.sub(lambda m: m["text"], text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*]+)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?=\S)([^_]+)(?<=\S)_(?![\w_])", r"\1", text)
    text = " ".join(text.split()).removesuffix(":").rstrip()
    if text.endswith(".") and not text.endswith("..") and not re.search(r"\b(?:e\.g|i\.e|etc|vs)\.$", text):
        text = text[:-1]
    return text


def strip_emoji(text: str) -> str:
    return " ".join(_EMOJI.sub(" ", text).split())


def field(text: str) -> tuple[str, str] | None:
    """``Label: value`` (``**Owner**: X``, ``- Duration: 2h``): the label and the value as written."""
    match = _FIELD.match(text)
    if match is None or len(match["label"].split()) > 4:
        return None
    return clean(match["label"]), match["value"].strip()


def owner_field(text: str) -> str | None:
    """The owner a whole line names: ``Owner: Matt``, ``**Responsible**: Ops Lead``, ``Approver: CTO``."""
    match = _OWNER_FIELD.match(text.strip())
    if match is None:
        return None
    return person(match["who"])


def owner_inline(text: str) -> tuple[str, str] | None:
    """An owner inside a title or item: ``(Owner: X, Due: …)``, ``— Owner: X``, ``— @alice``; and the text without it."""
    for pattern in (_OWNER_PAREN, _OWNER_TAIL, _MENTION_TAIL):
        match = pattern.search(text)
        if match is not None:
            who = person(match["who"])
            if who:
                rest = (text[: match.start()] + " " + text[match.end() :]).strip()
                return who, re.sub(r"\s*[—–|-]\s*$", "", rest).strip()
    return None


def person(text: str) -> str | None:
    """An owner as written, cleaned; None for blanks such as ``TBD``, ``____``, ``[Name]``."""
    who = clean(text).strip(" .;,|")
    who = re.sub(r"(?i)^(?:the|our)\s+", "", who)
    if not who or _NOBODY.match(who) or len(who) > 60 or not re.search(r"[A-Za-z]", who):
        return None
    return who


def thresholds(text: str) -> list[ThresholdClause]:
    """Every ``metric op number[unit] [for N unit]`` clause in ``text``."""
    plain = clean(strip_emoji(text))
    found: list[ThresholdClause] = []
    for clause in _CLAUSE_SPLIT.split(plain):
        match = _CLAUSE.search(clause)
        if match is None:
            continue
        op = next(_OPS[index][0] for index in range(len(_OPS)) if match[f"op{index}"] is not None)
        unit = (match["unit"] or "").lower()
        after = clause[match.end() :]
        duration = _FOR.search(after) or _FOR.search(clause[: match.start()])
        for_seconds = None
        if duration is not None:
            number = duration["n"] or duration["pn"] or duration["cn"]
            word = (duration["unit"] or duration["punit"] or duration["cunit"]).lower()
            word = word if word in SECONDS_PER_UNIT else word.rstrip("s")
            for_seconds = float(number) * SECONDS_PER_UNIT[word]
        after_duration = _FOR.search(after)
        end = match.end() + after_duration.end() if after_duration is not None else match.end()
        metric = _metric(match["metric"])
        if unit in ("m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours") and not metric:
            continue
        found.append(
            ThresholdClause(
                metric,
                op,
                float(match["number"].replace(",", ".")),
                unit,
                for_seconds,
                _title_text(clause[:end]),
                baseline=bool(match["baseline"]) or unit in ("x", "×"),
            )
        )
    return found


def _title_text(text: str) -> str:
    text = _LEADING_TRIGGER.sub("", text.strip())
    text = re.sub(r"^[^\w(]+", "", text).strip(" ,;:-–—")
    return text[:1].upper() + text[1:]


def _metric(text: str) -> str:
    text = _LEADING_TRIGGER.sub("", text.strip())
    text = re.sub(r"(?i)^.*\b(?:if|when|whenever|once)\s+", "", text)
    text = re.sub(r"^[^\w(]+", "", text)
    previous = None
    while previous != text:
        previous = text
        text = _METRIC_NOISE.sub("", text).strip()
    words = text.split()
    if len(words) > 7:
        text = " ".join(words[-6:])
    return text[:1].upper() + text[1:] if text else ""


def action_of(text: str) -> str | None:
    """``rollback``, ``halt`` or ``warn`` from the words of a trigger, or None when it says none."""
    if re.search(r"(?i)\b(?:evaluate|consider|discuss|investigate|assess)\b[^.;]*\broll[\s-]?back\b", text):
        return "halt"
    if ROLLBACK_WORD.search(text):
        return "rollback"
    if HALT_WORD.search(text):
        return "halt"
    if WARN_WORD.search(text):
        return "warn"
    return None


def approval_phrase(text: str) -> str | None:
    """A phrase to type, in quotes beside "approve", "say", "type": ``APPROVE PROD DEPLOY``."""
    for match in APPROVAL_PHRASE.finditer(text):
        if APPROVAL_CONTEXT.search(text[max(0, match.start() - 80) : match.start()]):
            return match["phrase"]
    return None


def verb_led(text: str) -> bool:
    """Whether an item starts like an instruction: ``Deploy backend``, ``Run migrations``."""
    words = re.findall(r"[A-Za-z][A-Za-z-]*", clean(strip_emoji(text)))
    return bool(words) and (words[0].lower() in VERBS or words[0].lower().rstrip("s") in VERBS and len(words) > 2)
