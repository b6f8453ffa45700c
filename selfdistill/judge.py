"""Judging what the user typed, in context: a correction, an approval, or something else.

Keywords alone fail both ways: "don't forget the tests" is a new instruction, "still 2 seconds"
says the fix did not work. So each cue is weighed against what the agent had just said or done:
a pasted error right after the agent claimed success is a correction; the same paste as the
first message of a session is a bug report. "don't use X" is a correction only when X is what the
agent was doing. Cues cover several languages; the weights are plain numbers, summed.

Phrase lists do not anticipate how people say "this is wrong", so some cues read the prompt's shape
instead of its words: a plain statement about the product's state right after the agent worked
("the middle card is bigger", "it now tried to ..."), a contrast ending in a negation, a "don't ..."
aimed at what the agent was doing, a first sentence that denies what the agent just claimed, and,
against all of these, a prompt that is a request phrased as a question.

When the transcript shows how the agent began to answer, that counts too: "You're absolutely
right" or "Sorry, my mistake" is the agent's own reading of the prompt as a correction, whatever
words the user chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selfdistill.caseless import caseless
from selfdistill.transcript import Entry, bound

LABELS = ("correction", "approval", "other")
THRESHOLD = 1.0  # a score at or above this makes the label
# Redirect and shape cues read only a prompt's opening: a verdict on the agent's work comes first,
# and "instead" or "should not" 600 characters into a long prompt describe the next task.
REDIRECT_CHARS = 500

# User entries that Claude Code writes itself: command echoes, hook output, reminders, notices.
NOT_TYPED_PREFIXES = (
    "<command-",
    "<local-command",
    "<bash-",
    "<user-prompt-submit-hook",
    "<task-notification",
    "<session-start-hook",
    "<system-reminder",
    "<tool_use_error",
    "[Request interrupted",
    "Caveat: The messages below",
    "This session is being continued from a previous conversation",
    "Please continue the conversation from where we left",
    "Stop hook feedback",
    "API Error",
)
INTERRUPT_MARKER = "[Request interrupted by user"
# Claude Code prefixes that annotate a prompt, not part of what was typed.
ANNOTATION = re.compile(r"<(ide_[a-z_]+|system-reminder)>.*?</\1>\s*", re.S)


@dataclass(frozen=True)
class PromptContext:
    """What the agent had just said and done when the user typed the prompt."""

    last_assistant_text: str = ""
    agent_acted: bool = False  # the agent answered or used tools since the previous prompt
    claimed_success: bool = False  # its last words said the work was done / fixed / working
    asked_question: bool = False  # its last words asked the user something
    made_offer: bool = False  # ... and that question offered to do something ("Shall I ...?")
    last_tools_failed: bool = False
    after_interruption: bool = False
    after_rejection: bool = False
    recent_actions: str = ""  # names and subjects of the agent's latest tool calls
    agent_reply: str = ""  # the start of what the agent answered to the prompt, when known
    agent_reading: str = ""  # the start of the agent's thinking about the prompt, when kept


@dataclass(frozen=True)
class Judgement:
    label: str  # one of LABELS
    confidence: float
    reason: str


def typed_prompt(entry: Entry) -> str | None:
    """The text the user typed in this entry, or None when the entry was not typed by them."""
    if entry.type != "user" or entry.is_meta or entry.is_sidechain or entry.is_compact_summary:
        return None
    if entry.tool_results or not entry.texts:
        return None
    text = ANNOTATION.sub("", entry.text).strip()
    if not text or text.startswith(NOT_TYPED_PREFIXES):
        return None
    return text


def is_interruption_text(text: str) -> bool:
    return text.lstrip().startswith(INTERRUPT_MARKER)


CLAIM = re.compile(
    r"(?:\b(?:done|fixed|resolved|works?|working|complete[d]?|ready|success(?:ful(?:ly)?)?"
    r"|should now|now (?:shows?|has|uses|works|displays)|updated|implemented|deployed|pushed"
    r"|passing|passes|all set)\b|✅|🎉|🚀)",
    re.I,
)
QUESTION_END = re.compile(r"\?\s*(?:\*\*)?\s*$")
OFFER = re.compile(
    r"(?:\b(?:would you like|do you want|want me to|shall I|should I|ready (?:to|for)"
    r"|let me know if|which (?:one|approach|option)|prefer)\b"
    r"|(?:^|\n|[.!]\s)\W*(?:want|proceed|go ahead)\b)"
    r"[^\n]*\?",
    re.I,
)


def claims_success(text: str) -> bool:
    return bool(CLAIM.search(text[-600:]))


def asks_question(text: str) -> bool:
    tail = text.strip()[-500:]
    return bool(QUESTION_END.search(tail) or OFFER.search(tail))


def makes_offer(text: str) -> bool:
    return bool(OFFER.search(text.strip()[-500:]))


# ---- cues: (pattern, weight, reason). Patterns run on the prompt's first 1500 characters. ----

Cue = tuple[re.Pattern[str], float, str]  # a pattern, the weight it adds, the reason it gives
_I = re.I | re.M
STRONG_CORRECTION: tuple[Cue, ...] = (
    (
        re.compile(
            r"\bstill\b[^.\n]{0,40}?(?:n'?t\b|\b(?:not|no|error|errors|issue|issues|broken|fail\w*"
            r"|same|slow|says|seeing|getting|around|there|happening|blank|empty|wrong|crash\w*"
            r"|bug|problem|shows?|showing|needs?|\d))|\bstill\s*[.!?]*$"
            r"|^\W*(?:still|again)\s*[!.,:?]",  # "STILL !", "Again, it's been 40 minutes"
            _I,
        ),
        1.4,
        "says it still fails",
    ),
    (
        re.compile(
            r"\b(?:does(?:n'?t| not)|did(?:n'?t| not)|is(?:n'?t| not)|are(?:n'?t| not)|wo(?:n'?t)"
            r"|not|never|nothing|no longer)\s+(?:\w+\s)?(?:work|working|works|load|loading"
            r"|show|showing|appear|change|changed|fixed|connect\w*|deploy\w*|wprl|run)\b",
            _I,
        ),
        1.3,
        "says it does not work",
    ),
    (
        re.compile(
            r"\b(?:can'?t|cannot|can not|couldn'?t|unable to)\s+(?:\w+\s)?(?:deploy|build|run"
            r"|connect|log ?in|sign ?in|create|see|open|access|load|compile|start|install|push)\b",
            _I,
        ),
        1.1,
        "says it cannot be done",
    ),
    (
        re.compile(
            r"\b(?:was(?: it| this)?|used to be|it'?s been) (?:working|fine)\b"
            r"|\bused to work\b|\bworked before\b",
            _I,
        ),
        1.1,
        "says it worked before",
    ),
    (
        re.compile(
            r"\b(?:wrong|incorrect|(?<!be )(?<!get )broken|broke|crappy|terrible|awful|ugly"
            r"|worse|mistakes?)\b",
            _I,
        ),
        1.2,
        "calls the result wrong",
    ),
    (
        re.compile(
            r"\bnot what I\b|\bthat'?s not (?:it|right|what)\b|\bthis is not\b"
            r"|\bnot the (?:fix|one|right)\b"
            # "oops, I meant the other file"; but "I meant to ask" is the user's own slip.
            r"|\bI meant\b(?! to (?:ask|say|mention|add|write|type)\b)",
            _I,
        ),
        1.3,
        "says it is not what was meant",
    ),
    (
        re.compile(
            # Not in a question: "is there anything to revert for production?" asks, not orders.
            r"(?:\b(?:revert|undo|roll ?back|put it back|change it back|go back to)\b"
            r"|\b(?:delete|discard|remove|drop|throw away) (?:all )?(?:the |your |those |these )?"
            r"(?:changes|edits)\b)(?![^.!\n]*\?)",
            _I,
        ),
        1.2,
        "asks to undo",
    ),
    (
        re.compile(
            # "you should have access" is no reproach; "what you changed" points at the work.
            r"(?<!what )\byou (?:keep|didn'?t|did not|forgot|missed|never|were supposed"
            r"|should(?:'ve| have) (?:\w+ed|been|done|known|seen|run|written|made|read)"
            r"|must|broke|removed|deleted)\b",
            _I,
        ),
        1.1,
        "points at the agent's miss",
    ),
    (
        re.compile(
            r"\bif you (?:had |)used\b|\bwhy (?:did|didn'?t) you\b|\bI (?:told|asked) you\b"
            r"|\b(?:we|I) never (?:want|wanted|asked|said)\b"
            r"|\bI said\b|\bI (?:wanted|meant) (?:it|this|that|them|you) to\b",
            _I,
        ),
        1.2,
        "reproaches the agent",
    ),
    (re.compile(r"\b(?:I )?(?:don'?t|do not) (?:really )?like\b", _I), 1.1, "dislikes the result"),
    # "it shows 'HORIZON INC' instead of 'CT CORPORATION'": the output is not the expected one.
    (
        re.compile(
            r"\b(?:shows?|showing|gives?|giving|returns?|returning|displays?|prints?|outputs?"
            r"|says)\b[^\n]{0,100}?\binstead of\b",
            _I,
        ),
        1.0,
        "says it shows the wrong thing",
    ),
    (
        re.compile(
            r"\b(?:is|are)(?:n'?t| not) looking (?:right|good|like|as)\b"
            r"|\bdoes(?:n'?t| not) look (?:right|good|like|the same)\b"
            # "I pushed but it didn't redeploy": what was expected did not happen.
            r"|\bbut (?:it|this|that|they|nothing|the \w+) (?:still )?(?:didn'?t|did not"
            r"|wasn'?t|was not|never)\b",
            _I,
        ),
        1.1,
        "says it did not come out right",
    ),
    # Words that only describe a defect in what is on screen ("it's mismatched", "looks janky").
    (
        re.compile(
            r"\b(?:messy|glitch(?:y|ing)|buggy|janky|mismatched|misaligned|cut off|squished"
            r"|cramped|off-center|overlapping|flicker(?:s|ing)?)\b",
            _I,
        ),
        1.0,
        "names a visible defect",
    ),
    (
        re.compile(
            r"\b(?:is|are|was|were)(?:n'?t| not) (?:correct|right|accurate|centered|aligned|visible"
            r"|displayed|applied|updated|changed|fixed|there)\b|\bdon'?t (?:see|notice) any\b"
            r"|\bthe other way around\b|\bnothing'?s? (?:is )?(?:working|changed|happen)",
            _I,
        ),
        1.1,
        "says the change is not there",
    ),
    (
        re.compile(
            r"\b(?:one|an|a|major|big|the|same) (?:issue|problem|bug)s? "
            r"(?:is|with|now|here|again)\b"
            r"|\bwhy (?:didn'?t|doesn'?t|isn'?t|won'?t|aren'?t) (?:it|the|this|that|my)\b"
            r"|\bwhy (?:are|did) (?:you|u|we) (?:using|doing|adding|trying|making|changing)\b"
            r"|\bconfused by what you\b|\byou (?:got|are|seem) stuck\b",
            _I,
        ),
        0.9,
        "reports a problem with the work",
    ),
    (
        re.compile(
            r"\b(?:folders?|files?|page|it|output|result)s? (?:is|are) (?:still )?(?:empty|blank"
            r"|missing)\b|\bare blank\b|\bis blank\b",
            _I,
        ),
        1.2,
        "reports empty output",
    ),
    (
        re.compile(
            r"\b(?:fails?|failing|failed|errors?|crash(?:es|ed)?|hangs|hung up|freez(?:es|ing)"
            r"|frozen)\b(?! handling)"
            r"|에러|오류|报错|错误|エラー|ошибк|erreur|fehler",
            _I,
        ),
        0.5,
        "mentions a failure",
    ),
    # other languages (said the same way: not working / still / wrong / undo), in two patterns:
    # one alternation of Latin-script phrases and one of the rest scan faster than one of both.
    (
        re.compile(
            r"\b(?:no funciona|sigue (?:sin|fallando|igual|dando)|todav[ií]a no|est[aá] mal"
            r"|incorrect[oa]|ne (?:marche|fonctionne) (?:pas|toujours)|[çc]a marche pas"
            r"|toujours (?:pas|la m[eê]me)|c'est faux|funktioniert (?:nicht|immer noch)"
            r"|geht nicht|immer noch|falsch|n[aã]o funciona|ainda n[aã]o|errado"
            r"|no se (?:ve|muestra|guarda|carga)|no aparece|ne s'affiche pas|n'appara[iî]t pas"
            r"|wird nicht|n[aã]o aparece|n[aã]o est[aá])",
            re.I,
        ),
        1.3,
        "says it does not work (non-English)",
    ),
    (
        re.compile(
            r"не работает|вс[её] ещ[её]|неправильно|не то|不对|错了|还是不行|不行|没用|没有用"
            r"|还是报错|違う|動かない|まだ|間違|안 ?돼|안 ?되(?:네|는데|잖|요)|작동(?:을)? ?안|틀렸"
            r"|아니야|아직도|여전히|ไม่ทำงาน|ยังไม่|ผิด|잘못|버그|에러가|안 나와|안 보여|아냐"
            r"|لا يعمل|ما يشتغل|خطأ|غلط|ما زال|لا يزال|لسه|还是没|没有变|不显示|表示されない"
            r"|変わらない",
            re.I,
        ),
        1.3,
        "says it does not work (non-English)",
    ),
)

REDIRECT: tuple[Cue, ...] = (
    (
        re.compile(
            r"^\s*(?:no|nope|nah|nein|non|не|아니)\b[\s,.!](?!\s*(?:rush|worries|problem|hurry|pressure)\b)",
            re.I,
        ),
        1.0,
        "opens with no",
    ),
    (
        re.compile(r"^\s*not (?:on|in|the|that|this|what|there|like|quite|yet)\b", re.I),
        1.0,
        "opens with not",
    ),
    (re.compile(r"^\s*but\b", re.I), 0.6, "disputes"),
    (
        re.compile(r"^\s*(?:change|rename|set|switch) (?:it|this|that) (?:back )?to\b", re.I),
        0.8,
        "changes what the agent just did",
    ),
    (
        re.compile(
            r"^\s*(?:wait|hold on|stop|hmm+,? no)\b[\s,.!]+(?![\s,.!]|(?:what|how|why|is|does|do"
            r"|can you explain)\b)",
            re.I,
        ),
        1.0,
        "stops the agent",
    ),
    (
        re.compile(
            r"^\s*actually\b[, ]+(?:(?:no|don'?t|let'?s not|use|we|it|that|this|I want)\b)", re.I
        ),
        0.8,
        "changes course",
    ),
    (re.compile(r"\binstead\b", re.I), 0.6, "asks for something else instead"),
    (
        re.compile(r"\b(?:shouldn'?t|should not|should never|must not|mustn'?t)\b", re.I),
        0.8,
        "says what should not happen",
    ),
    (
        re.compile(
            r"\b(?:should be|belongs?|goes|lives?|use|using|in|at|to)\b"
            r"(?:[^.\n]|\.(?=\S)){0,60},?\s+not\s+"  # a dot inside a path does not end the clause
            r"(?:in\s+|at\s+|the\s+)?[\w./@`~-]{2,}",
            re.I,
        ),
        0.9,
        "says X, not Y",
    ),
    (re.compile(r"\btry again\b", re.I), 0.6, "asks to try again"),
    # "needs more", "still too small": the subject is what the agent just made.
    (
        re.compile(
            r"^\W*(?:(?:it|this|that)(?:'s| is)? )?(?:still )?(?:needs? (?:more|less|to be)\b"
            r"|(?:way |a bit |slightly |much |far )?too (?:big|small|large|long|short|wide"
            r"|narrow|tall|dark|light|bright|slow|fast|much|many|little|few|close|far)\b)",
            re.I,
        ),
        1.0,
        "says it needs more or less",
    ),
    # "keep the old CTA; other than that the plan looks good": accepted, with a change.
    (
        re.compile(
            r"\b(?:other than that|apart from that|aside from that|besides that|except for that"
            r"|otherwise (?:it |this |that )?(?:looks|is|seems))\b",
            re.I,
        ),
        1.2,
        "asks for a change to work it otherwise accepts",
    ),
    # "shouldn't that be an env variable?", "isn't this already in src/styles?": a challenge.
    (
        re.compile(
            r"^\W*(?:(?:but|so|and|hmm+|wait|um+)\W+)?(?:shouldn'?t|wouldn'?t|isn'?t|aren'?t"
            r"|doesn'?t|didn'?t|wasn'?t)\s+(?:that|this|it|there|they|those|these|the)\b"
            r"[^?\n]{0,120}\?",
            re.I,
        ),
        1.0,
        "questions the work",
    ),
    # "just do it yourself", "generate the plan yourself": the agent handed work back or delegated.
    (
        re.compile(
            r"\b(?:do|fix|run|write|make|generate|create|handle) (?:it|this|that|them"
            r"|the [\w -]{1,30}?) yourself\b"
            r"|\b(?:check|see|test|verify|look at) (?:it |this |that )?(?:for )?yourself\b",
            re.I,
        ),
        1.0,
        "tells the agent to do it itself",
    ),
    # "I'm not sure this program really does ...", "I don't think we're referencing it correctly".
    (
        re.compile(
            r"\bnot (?:sure|convinced) (?:that )?(?:this|it|that|the \w+|your \w+)[^.?!\n]{0,40}"
            r"\b(?:really|actually|even)\b|\bI do(?:n'?t| not) think (?:this|it|that|we|you|the)\b"
            r"[^.?!\n]{0,50}\b(?:correctly|properly|right|works?|working|does)\b",
            re.I,
        ),
        1.0,
        "doubts the work",
    ),
    (
        re.compile(
            r"\b(?:we|you|I) (?:already|do) have\b|\bbut you (?:do|did) have\b|\bthere is already\b"
            r"|\bhave \w+ already\b|\balready (?:exists?|have|has|there)\b|\bnot already\b",
            re.I,
        ),
        0.9,
        "points at what already exists",
    ),
    (
        re.compile(r"\bno need (?:for|to)\b|\bnot needed\b|\bunnecessary\b", re.I),
        0.8,
        "says the step is not needed",
    ),
    (
        re.compile(
            r"\bdid you (?:even |actually )?(?:read|look|check|open|test|try|verify)\b", re.I
        ),
        0.8,
        "asks whether the agent checked",
    ),
    (
        re.compile(r"\b(?:remake|redo|re-do|rewrite|start over|try again with|again with)\b", re.I),
        0.6,
        "asks to redo",
    ),
    (
        re.compile(
            r"\bhow (?:it|this) should look\b|\bshould be (?:like|the same|identical)\b"
            r"|\bwhere it should be\b|\bwrong (?:spot|place)\b",
            re.I,
        ),
        0.9,
        "says how it should be",
    ),
    (
        re.compile(r"\bwhy (?:is|was|are|does|did) (?:this|it|that)\b", re.I),
        0.5,
        "asks why it happens",
    ),
    (re.compile(r"\b(?:NOT|NEVER|ONLY|DON'?T|STOP|WRONG|NO)\b"), 0.6, "shouts a constraint"),
)

APPROVAL: tuple[Cue, ...] = (
    (
        re.compile(
            r"^\s*(?:great|perfect|excellent|awesome|fantastic|amazing|nice|sweet|cool|brilliant"
            r"|wonderful|beautiful|lovely|love it|good job|well done|nicely done|thanks?|thank you"
            r"|thx|ty|lgtm|looks good|looks great|that works|it works|works now|yay|wow"
            r"|bravo|super|parfait|merci|g[eé]nial|perfecto|gracias|genau|danke|perfekt|prima"
            r"|отлично|спасибо|супер|好的|很好|太好了|完美|谢谢|素晴らしい|ありがとう"
            r"|좋아|좋습니다|좋네|감사|잘했|ดีมาก|ขอบคุณ|lit|sick|dope|very good|nice one)\b",
            re.I,
        ),
        1.3,
        "opens with praise",
    ),
    (
        re.compile(
            r"^\s*(?:ok(?:ay)?|alright|yes|yeah|yep|sure|oh)[,.! ]+(?:great|nice|good|perfect|cool"
            r"|sweet|sick|lit|awesome|amazing|excellent|dope|lovely|beautiful|thanks?"
            r"|that (?:works|looks))\b",
            re.I,
        ),
        1.3,
        "acknowledges with praise",
    ),
    (
        re.compile(
            r"\b(?:that|this|it) (?:looks|is|seems) (?:much |a lot |way )?(?:better|good|great"
            r"|perfect|right)\b|\bI (?:like|love) (?:that|it|this)\b|\bI see an improvement\b"
            r"|\bgood news\b|\b(?:it|that) (?:worked|works)\b|\bworks (?:now|great|perfectly)\b",
            re.I,
        ),
        1.1,
        "says the result is good",
    ),
    (
        re.compile(
            r"^\s*(?:yes|yeah|yep|y|sure|ok(?:ay)?|go ahead|do it|please do|sounds good"
            r"|let'?s do it|let'?s go with|approved?|ja|oui|s[ií]|да|是的|はい|네|응)\b",
            re.I,
        ),
        0.6,
        "agrees",
    ),
    # "proceed (with ...)": whatever the agent proposed or was about to do, go on with it.
    (re.compile(r"^\W*proceed\b", re.I), 1.0, "tells the agent to proceed"),
    (
        re.compile(r"^\s*(?:ok(?:ay)?|yes)[,.!]?\s*(?:continue|go on|proceed|carry on)\b", re.I),
        0.6,
        "tells the agent to carry on",
    ),
)


# Each case-blind cue searches the lowercased prompt (see caseless.py and _score).
Scan = tuple[re.Pattern[str], float, str, bool]  # a Cue, and whether it reads the lowercased text


def _scans(cues: tuple[Cue, ...]) -> tuple[Scan, ...]:
    return tuple(
        (caseless(p), w, r, True) if p.flags & re.I else (p, w, r, False) for p, w, r in cues
    )


STRONG_SCANS, REDIRECT_SCANS, APPROVAL_SCANS = map(_scans, (STRONG_CORRECTION, REDIRECT, APPROVAL))

# ---- structure: what the prompt does relative to the agent's last turn, not its words ----

# A plain statement about the product's state ("the middle card is bigger", "it now tried to ...",
# "this looks off"): after the agent worked, the user describes what they see because it is not
# what they wanted. Questions and requests start differently, so they do not match.
OBSERVED_STATE = re.compile(
    r"^\W*(?:(?:well|so|hmm+|ok(?:ay)?|now|but|and|currently|right now)\b,?\s+)*"
    r"(?:it|this|that|they|nothing|everything"
    r"|(?:the|my|our|your|these|those) (?:[\w@./-]+ ){0,7}?[\w@./-]+)"
    r"\s+(?:now\s+|still\s+|just\s+|only\s+|also\s+|again\s+)?"
    r"(?:is|are|was|were|looks?|shows?|showing|says|goes|has|have|keeps?|tried|tries|does|did"
    r"|doesn'?t|didn'?t|isn'?t|aren'?t|won'?t|can'?t|kicks?|seems?|gets?|got|became|appears?"
    r"|opens?|returns?|gives?|displays?|stays?|jumps?|overlaps?|crashe[sd]"
    r"|needs? (?:more|less|to be (?:more|less|bigger|smaller)))\b",  # "it needs more space"
    re.I,
)
# A device or page named by one word that reports its state ("shrooly says ap mode").
REPORTS_STATE = re.compile(r"^\W*[\w-]+ (?:says|shows|displays|prints|returns)\b", re.I)
# What the state should be, said of a thing already there ("the footer should stay at the
# bottom", "this page needs to actually save"): after the agent worked, the gap between what it
# made and what was wanted, with no defect word. The thing is one the agent just worked on or
# talked about ("the import should ..." after it wrote the export is a new request). Round 8
# measured it before use: it fires on 4 of the 2,413 typed prompts after agent work in the
# corpus outside the blind sets, from three repositories; the 3 labelled are corrections, and
# none of the 583 labelled other prompts has it. "that should work", "this should also ..."
# (an extension) and questions are left out.
STATE_SHOULD_BE = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|but|and|hmm+|well|now)\W+)*"
    r"(?P<thing>(?:the|this|that|these|those|it|they)\b[^.?!\n]{0,60}?)"
    r"\b(?:should(?! (?:work|do|be (?:fine|good|enough|ok(?:ay)?))\b)|must"
    r"|needs? to|has to|have to)\b(?! (?:also|now|probably|prob)\b)[^?\n]*$",
    re.I,
)
# "the words are right but the wireframes aren't": a contrast that ends in a negation.
CONTRAST_NEGATION = re.compile(
    r"\b(?:but|however|though|although)\b[^.?!\n]{0,60}?(?:n'?t\b|\b(?:not|no|never|nothing)\b)",
    re.I,
)
# An order that opens by forbidding something: mostly stops or narrows what the agent is doing.
NEGATIVE_IMPERATIVE = re.compile(
    r"^\W*(?:please\s+)?(?:don'?t|do not|dont|never|stop|quit|no more)\b[\s,.!]*"
    r"(?!forget|worry|hesitate|mind)(\w*)",
    re.I,
)
# Small closed list of negations (several languages) for "the prompt denies the agent's claim".
NEGATION = re.compile(
    r"n'?t\b|\b(?:not|no|nope|never|nothing|none|wrong|instead|actually|nicht|kein|pas|nunca"
    r"|nada|n[aã]o)\b|不|没|아니|안 |못 |ない|не |لا |ما ",
    re.I,
)
CONTENT_WORD = re.compile(r"[^\W\d_][\w-]{4,}")
COMMON_WORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "their",
        "there",
        "these",
        "those",
        "which",
        "would",
        "could",
        "should",
        "other",
        "being",
        "every",
        "still",
        "think",
        "really",
        "where",
        "while",
        "thing",
        "things",
        "using",
        "right",
        "here",
        "just",
    ]
)


REQUEST_QUESTION = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|and|also|hmm+|wait|question:?)\W+)*"
    r"(?:(?:can|could|would|will) (?:you|we|i)|do (?:you|we|i)|how|what|where|when|which"
    r"|should (?:we|i))\b[^\n]*\?",
    re.I,
)
WHY = re.compile(r"\bwhy\b", re.I)


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.?!])\s|\n", text.strip(), maxsplit=1)[0]


def _contradicts_claim(text: str, context: PromptContext) -> bool:
    """The prompt's first sentence negates something about what the agent just said it did."""
    if not context.claimed_success:
        return False
    first = _first_sentence(text)
    if not NEGATION.search(first):
        return False
    said = {w.lower() for w in CONTENT_WORD.findall(context.last_assistant_text[-400:])}
    return bool({w.lower() for w in CONTENT_WORD.findall(first)} & (said - COMMON_WORDS))


def _says_what_work_should_be(first: str, context: PromptContext) -> bool:
    """ "the footer should stay at the bottom" about a footer the agent just worked on.

    "this / it / they" point at the agent's work; "the X" must be in its last words or tool
    calls, unless those are unknown (a hook payload), where any thing counts.
    """
    found = STATE_SHOULD_BE.search(first)
    if not found or not context.agent_acted:
        return False
    thing = found.group("thing")
    if thing.split()[0].lower() != "the" or not context.last_assistant_text:
        return True
    doing = (context.last_assistant_text[-1500:] + " " + context.recent_actions).lower()
    words = {w.lower() for w in CONTENT_WORD.findall(thing)} - COMMON_WORDS
    return any(word in doing for word in words)


def _forbids_what_agent_does(text: str, context: PromptContext) -> bool:
    """ "don't implement anything yet" while the agent was implementing; any "stop" that interrupts.

    A "don't ..." about something the agent was not doing is a new instruction, not a correction.
    """
    found = NEGATIVE_IMPERATIVE.search(text)
    if not found:
        return False
    if context.after_interruption:
        return True
    verb = found.group(1).lower()
    doing = (context.last_assistant_text[-400:] + " " + context.recent_actions).lower()
    return len(verb) >= 3 and verb not in STOPWORDS and verb[:5] in doing


# An order that takes away from or reshapes something ("remove the stagger animation for now",
# "make it smaller"). Alone it reads as a new task; aimed at what the agent just touched or said,
# it undoes or adjusts that work. "move" is left out: on the tuned prompts moving things was
# mostly a new task.
ADJUST_ORDER = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|sweet|great|now|also|and|please|just|hmm+)\b[,.!]?\s+)*"
    r"(?:remove|delete|drop|get rid of|take out|hide|shrink|revert|undo|put back|bring back"
    r"|restore|make (?P<made>it|them|this|that|the [\w-]+(?: [\w-]+)?) (?:smaller|bigger|larger"
    r"|shorter|longer|wider|narrower|less|more|lighter|darker|thinner|thicker))\b(?P<rest>.{0,80})",
    re.I,
)
# "remove the duplicate ...": the object itself names a defect, whatever the agent did.
DEFECT_OBJECT = re.compile(
    r"^\W*(?:please\s+)?(?:remove|delete|get rid of|drop)\s+(?:the\s+|that\s+|this\s+|all\s+)?"
    r"(?:duplicated?|extra|stray|leftover|random|broken)\b"
    r"|\bfrom what you(?:'ve| have)? (?:added|did|wrote|changed|made|created)\b",
    re.I,
)


def _adjusts_agent_work(text: str, context: PromptContext) -> bool:
    """An undo / adjust order whose object the agent just touched or talked about.

    Right after the agent offered something ("Want me to remove X?"), the same words accept it.
    """
    if DEFECT_OBJECT.search(text):
        return True
    found = ADJUST_ORDER.search(_first_sentence(text))
    if not found or context.made_offer:
        return False
    doing = (context.last_assistant_text[-1500:] + " " + context.recent_actions).lower()
    target = f"{found.group('made') or ''} {found.group('rest')}"
    words = {w.lower() for w in CONTENT_WORD.findall(target)} - COMMON_WORDS
    return any(word in doing for word in words)


def _structure(text: str, context: PromptContext) -> tuple[float, list[str]]:
    """Cues from the shape of the prompt relative to the agent's turn, summed like the others."""
    first = _first_sentence(text)
    asks = bool(REQUEST_QUESTION.search(text)) and not WHY.search(text)
    cues = (
        (
            context.agent_acted
            and bool(OBSERVED_STATE.search(first) or REPORTS_STATE.search(first)),
            1.0,
            "describes the state the agent left",
        ),
        (_says_what_work_should_be(first, context), 1.0, "says what the agent's work should be"),
        (bool(CONTRAST_NEGATION.search(text)), 0.4, "contrasts with a negation"),
        (_forbids_what_agent_does(text, context), 1.0, "forbids what the agent was doing"),
        (_contradicts_claim(text, context), 0.4, "denies what the agent just claimed"),
        # "can you ...?", "how would ...?": asking for something, not judging what was done.
        (asks, -0.5, "asks a question"),
    )
    fired = [(weight, reason) for found, weight, reason in cues if found]
    return sum(weight for weight, _ in fired), [reason for weight, reason in fired if weight > 0]


ERROR_PASTE = re.compile(
    r"(?:^|\n)[\s⎿│>|*-]*(?:Error|TypeError|ReferenceError|SyntaxError|Traceback|Exception|FATAL|fatal"
    r"|✖|\u00d7|error TS\d+|Failed to|Uncaught)\b"
    r"|\b(?:[45]\d\d (?:Internal Server Error|Not Found|Bad Request|Unauthorized|Forbidden)"
    r"|Status Code\s*\n?\s*[45]\d\d|exited with code [1-9]"
    r"|Build failed|Command failed|ArgumentValidationError|\w+Error:|is not assignable to"
    r"|\w+Exception\b|Unhandled Exception|\[ERROR\]|FAILURE:|command not found|not recognized as"
    r"|No such file or directory|Unresolved reference|panicked at|Segmentation fault)"
    r"|\"(?:code|error|errorCode)\":\s*\"?\w",  # a pasted JSON error body
)
# Pasted-image markers and leading @file mentions come before what the user actually says.
ERROR_START = re.compile(
    r"\s*(?:Could not|Cannot find|Can't resolve|Failed to|Unable to|Uncaught|Unhandled"
    r"|Element is missing|Module not found|Unexpected token|\w*Error\b|\[\w+\] .{0,80}failed)"
)
# An error-shaped fragment anywhere in the prompt, even on one line or inside log noise
# ("[convex] 12:01 ... Uncaught Error: ...", "## Error Type", a stack frame): people paste the
# part of the output that failed, with whatever prefix their tool printed before it.
ERROR_SHAPE = re.compile(
    r"\bUncaught (?:\w+)?Error\b|^#+ ?Error (?:Type|Message)\b|\bTraceback \(most recent"
    r"|\b(?:Type|Reference|Syntax|Range|Runtime|Value|Key|Attribute|Import|Index|Name)Error\b"
    r"|\bat [\w.<>$]+ \([^()\s]+:\d+:\d+\)|\bFile \"[^\"]+\", line \d+"
    r"|\bfailed with (?:exit )?(?:code|status)\b|\bNo module named\b|\bis not a subtype of\b"
    r"|\bCannot read propert(?:y|ies) of (?:undefined|null)\b|\b(?:HTTP|status)[ :]*[45]\d\d\b"
    r"|\b\w+Warning: ",
    re.M,
)
# "getting the error: ...", "I got this error": the user reports what the agent's work produced.
REPORTS_ERROR = re.compile(
    r"\b(?:getting|got|get|seeing|see|having|throws?|throwing|shows?|showing)\s+(?:the\s+|this\s+"
    r"|an?\s+|these\s+|following\s+|same\s+|some\s+){0,2}(?:errors?|exceptions?)\b",
    re.I,
)
# How the agent answers a correction ("You're absolutely right", "Sorry, my mistake", "Good
# catch"), in the languages it answers in: its own reading of the prompt, whatever the user's
# wording. Measured on the transcript prompts labelled before round 5: 46 of 130 corrections got
# such an answer, 5 of the 377 approvals and other prompts did.
AGENT_CONCEDES = re.compile(
    r"^\W*(?:(?:ah|oh|ahh)\W+)?"
    r"(?:you'?re (?:absolutely |completely |totally |quite )?(?:right|correct)"
    r"|you are (?:absolutely |completely |quite )?(?:right|correct)|(?:I )?apologi[sz]e|sorry"
    r"|my (?:mistake|bad|apologies)|(?:good|great|nice) catch|oops|I misunderstood"
    r"|I made (?:a|an) (?:mistake|error)|(?:ah|oh),? I see\b"
    r"|tienes raz[oó]n|tiene raz[oó]n|vous avez raison|tu as raison|du hast recht"
    r"|sie haben recht|voc[eê] tem raz[aã]o|tem raz[aã]o|hai ragione|ты прав|вы правы"
    r"|说得对|抱歉|对不起|おっしゃる通り|その通り|申し訳|すみません|맞습니다|맞아요|죄송"
    r"|말씀하신 대로|معك حق|آسف)",
    re.I,
)
# How the agent's thinking restates a correction before it answers ("The user is saying the page
# still ...", "The user wants to revert ..."): like a concession, its reading, not the user's
# words. Narrow on purpose: "The user wants me to add X" reads a new request the same way. On the
# labelled transcript prompts whose thinking the transcript keeps (124 rows before round 7), it
# matched 12 of 28 corrections and none of the 96 other prompts.
_READER = r"(?:the user|they)"
AGENT_READS_CORRECTION = re.compile(
    _READER + r"(?: is| are|'s|'re)? (?:absolutely |completely |quite )?(?:right|correct)\b"
    r"|" + _READER + r" (?:is|are) (?:saying|reporting|noting|pointing out|telling me)(?: that)? "
    r"[^.\n]{0,90}?\b(?:still|(?:is|are|was|were|does|do|did)(?:n't| not)|wrong|broken|empty"
    r"|instead of)\b"
    r"|" + _READER + r" (?:wants?|asks?|is asking)(?: me)? to (?:revert|undo|roll back|go back"
    r"|put back|change (?:it|this|that|them) back)"
    r"|" + _READER + r" (?:is|are|seems?(?: to be)?) (?:unhappy|frustrated|annoyed|alarmed"
    r"|not happy|dissatisfied|upset)"
    r"|" + _READER + r" (?:is|are) (?:correcting me|pushing back)"
    r"|\bI (?:was|am|'m) wrong\b|\bI made (?:a|an) (?:mistake|error)"
    r"|\bI (?:misunderstood|misread)\b"
    r"|\bmy (?:previous|earlier|last) (?:fix|change|edit|approach|answer|attempt)\w* "
    r"(?:didn't|did not|wasn't|was not|isn't|is not)\b",
    re.I,
)
LEADING_NOISE = re.compile(r"^(?:\s*(?:\[Image #\d+\]|@\S+))+\s*")
LOG_LINES = re.compile(r"^\s*\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\s", re.M)


def judge(prompt: str, context: PromptContext) -> Judgement:
    """Label one typed prompt: correction, approval, or other, with a confidence and a reason."""
    if not context.agent_acted and not context.after_interruption:
        return Judgement("other", 0.9, "nothing of the agent's to judge yet")
    text = LEADING_NOISE.sub("", prompt).strip()
    # A paste's error line may sit at its end: read the head and the tail of a long prompt.
    pasted = _pasted_error(bound(text, 1500, 1500))
    pasted_log = len(LOG_LINES.findall(text[:3000])) >= 3
    text = text[:1500]
    lowered = text.lower()
    correction, why_c = _score(text, lowered, STRONG_SCANS)
    redirect, why_r = _score(text[:REDIRECT_CHARS], lowered[:REDIRECT_CHARS], REDIRECT_SCANS)
    correction, why_c = correction + redirect, why_c + why_r
    approval, why_a = _score(text, lowered, APPROVAL_SCANS)
    shape, why_s = _structure(text[:REDIRECT_CHARS], context)
    if approval >= 1.0:
        shape = min(shape, 0.3)  # praise first: a described state is probably the good result
    correction, why_c = correction + shape, why_c + why_s
    correction, why_c = _context_correction(text, context, correction, why_c, pasted, pasted_log)
    if AGENT_CONCEDES.match(context.agent_reply[:200]):
        # Strong enough to outweigh a question's shape: "isn't X redundant?" - "Good catch!".
        correction, why_c = correction + 1.5, [*why_c, "the agent's answer concedes a mistake"]
    if AGENT_READS_CORRECTION.search(context.agent_reading):
        correction, why_c = correction + 1.0, [*why_c, "the agent's thinking reads a correction"]
    if context.claimed_success and approval == 0 and FIX_REQUEST.search(text):
        # "fix X" right after "it's done" without a word of praise: X is still broken.
        correction, why_c = correction + 1.0, [*why_c, "asks to fix what was claimed done"]
    approval = _context_approval(text, context, approval)
    if correction >= THRESHOLD and correction >= approval - 0.3:
        return Judgement("correction", _confidence(correction), "; ".join(why_c))
    if approval >= THRESHOLD:
        return Judgement("approval", _confidence(approval), "; ".join(why_a) or "agrees")
    return Judgement("other", 0.6, "no cue strong enough")


def _score(text: str, lowered: str, scans: tuple[Scan, ...]) -> tuple[float, list[str]]:
    total = 0.0
    reasons: list[str] = []
    for pattern, weight, reason, reads_lowered in scans:
        if pattern.search(lowered if reads_lowered else text):
            total += weight
            reasons.append(reason)
    return total, reasons


def _context_correction(
    text: str,
    context: PromptContext,
    score: float,
    reasons: list[str],
    pasted_error: bool,
    pasted_log: bool,
) -> tuple[float, list[str]]:
    """Cues that only mean something next to what the agent just did."""
    extra = 0.0
    if pasted_error:
        extra += 1.0 if (context.claimed_success or context.agent_acted) else 0.3
        reasons = [*reasons, "pastes an error after the agent's work"]
    elif pasted_log and context.claimed_success:
        # People paste a log after "it works" to show that it does not.
        extra += 0.8
        reasons = [*reasons, "pastes a log after the agent claimed success"]
    if _adjusts_agent_work(text, context):
        # Not damped by praise: "sweet, remove what you added about X" still undoes the work.
        extra += 1.0
        reasons = [*reasons, "undoes or adjusts what the agent just did"]
    if _negates_recent_action(text, context):
        extra += 1.0
        reasons = [*reasons, "tells the agent not to do what it was doing"]
    if score > 0 and context.after_interruption:
        extra += 0.4
    if score > 0 and context.claimed_success:
        extra += 0.2
    if context.asked_question and score < 1.2 and _short_answer(text):
        extra -= 0.6  # a short reply to the agent's question is an answer, not a verdict
    return score + extra, reasons


def _context_approval(text: str, context: PromptContext, score: float) -> float:
    if score <= 0:
        return score
    agrees_to_offer = context.made_offer and re.match(
        r"^\s*(?:yes|yeah|yep|y\b|sure|ok(?:ay)?|go ahead|do it|please do|proceed|let'?s)",
        text,
        re.I,
    )
    # "proceed" / "go ahead" after any question of the agent's is a go-ahead, whatever was asked.
    goes_ahead = context.asked_question and re.match(
        r"^\s*(?:go ahead|do it|please do|proceed|continue)\b", text, re.I
    )
    # A hook payload carries no agent words: "yes please" / "proceed with ..." then answers an
    # offer the judge cannot see (as in fresh2's hook rows), not a plain question it can check.
    unseen_offer = not context.last_assistant_text and GO_AHEAD.match(text)
    bonus = 0.6 if agrees_to_offer or goes_ahead or unseen_offer else 0.0
    return score + bonus + (0.2 if context.claimed_success else 0.0)


GO_AHEAD = re.compile(
    r"^\s*(?:yes|yeah|yep|sure|ok(?:ay)?)?[,.!]?\s*(?:please\b|go ahead|do it|please do|proceed"
    r"|let'?s do it)\b",
    re.I,
)


def _pasted_error(text: str) -> bool:
    if ERROR_START.match(text):  # the prompt is nothing but an error message
        return True
    if ERROR_SHAPE.search(text) or REPORTS_ERROR.search(text):
        return True
    if not ERROR_PASTE.search(text):
        return False
    # A question about an error mentioned in passing is not a paste: require log-like shape.
    return "\n" in text or len(text) > 160 or bool(LOG_LINES.search(text))


FIX_REQUEST = re.compile(
    r"\b(?:can|could) you (?:please )?fix\b|\b(?:we )?need to fix\b|\bhow (?:can|do) (?:we|i|you) "
    r"fix\b|\bplease fix\b|^\s*fix (?:it|this|that)\b",
    re.I,
)
NEGATED_DIRECTIVE = re.compile(
    r"\b(?:don'?t|do not|dont|stop|never|no more|quit)\s+(?:use|using|run|running|call"
    r"|calling|create|creating|touch|read|reading|edit|editing|invoke|invoking|spawn|spawning)"
    r"\s+(?:the\s+|a\s+|any\s+)?([\w./@-]{3,})",
    re.I,
)


def _negates_recent_action(text: str, context: PromptContext) -> bool:
    """ "don't use X" where X is among the agent's latest tool calls."""
    recent = context.recent_actions.lower()
    if not recent.strip():
        return False
    for found in NEGATED_DIRECTIVE.finditer(text):
        word = found.group(1).lower().rstrip(".,")
        if word not in STOPWORDS and len(word) > 3 and word in recent:
            return True
    return False


STOPWORDS = frozenset(
    {
        "this",
        "that",
        "these",
        "those",
        "them",
        "with",
        "have",
        "make",
        "sure",
        "want",
        "need",
        "know",
        "think",
        "forget",
        "worry",
        "really",
        "just",
        "anything",
        "something",
        "it's",
        "your",
    }
)


def _short_answer(text: str) -> bool:
    return len(text.split()) <= 4 and "\n" not in text


def _confidence(score: float) -> float:
    return round(min(0.95, 0.5 + score / 5), 2)
