"""The words of the demo: two issues of a fictional daily AI-news digest, the
site pages and the demo audience. All of it is invented for this project; the
companies, people and figures do not exist, and every link points at the
reserved example domains.

Kept apart from demo/loader.py (which loads it) so the loader stays short
enough to read at once.
"""

from __future__ import annotations

from typing import Any

MAILING_LISTS: list[dict[str, Any]] = [
    {
        "slug": "daily-digest",
        "name": "Daily digest",
        "description": "The day's AI news in eight minutes, every weekday morning.",
        "default": True,
        "position": 0,
    },
    {
        "slug": "weekly-deep-dive",
        "name": "Weekly deep dive",
        "description": "One long read on Saturdays: a single story, explained properly.",
        "default": False,
        "position": 1,
    },
]

# (label, url): site pages by slug are written as /pages/<slug>/.
NAV_LINKS: list[tuple[str, str]] = [
    ("Courses", "/pages/courses/"),
    ("Guides", "/pages/guides/"),
    ("Tools", "/pages/tools/"),
    ("Videos", "/pages/videos/"),
    ("News", "/newsletter/"),
]

SITE_PAGES: list[dict[str, Any]] = [
    {
        "slug": "privacy",
        "title": "Privacy Policy",
        "show_in_footer": True,
        "position": 0,
        "body": (
            "<p>This page explains what we keep about you when you read or subscribe to the newsletter, "
            "why we keep it, and how to have it removed.</p>"
            "<h3>What we keep</h3>"
            "<p>When you subscribe we store your email address, the name you gave us (if any), the lists you "
            "chose, and a record of your consent: when you agreed, on which form, and the words you were shown. "
            "When an issue is sent to you we record whether it was delivered, and whether it was opened or a "
            "link in it was clicked, so that we can stop writing to addresses that no longer work.</p>"
            "<h3>Why we keep it</h3>"
            "<p>We use your address only to send you the newsletter you asked for and the emails needed to "
            "manage your subscription, such as the confirmation link. We never sell or rent the list, and we do "
            "not share it with sponsors: sponsored sections appear in the issue, but the sponsor never learns "
            "who read them.</p>"
            "<h3>Your choices</h3>"
            "<p>Every email has a link to unsubscribe in one click and a link to your preferences, where you can "
            "change lists or pause the newsletter. You may ask us for a copy of everything we hold about you, or "
            "ask us to erase it; after erasure we keep only a one-way fingerprint of your address so that it is "
            "never added back by mistake. Write to the address on the Support page and we will answer within "
            "thirty days.</p>"
        ),
    },
    {
        "slug": "support",
        "title": "Support",
        "show_in_footer": True,
        "position": 1,
        "body": (
            "<p>Most questions about your subscription can be answered without writing to us.</p>"
            "<ul>"
            "<li><strong>Not receiving the newsletter?</strong> Look in your spam or promotions folder, then add "
            "our sending address to your contacts. If you subscribed recently, make sure you clicked the link in "
            "the confirmation email; nothing is sent until you do.</li>"
            "<li><strong>Too much email?</strong> Use the preferences link at the foot of any issue to keep only "
            "the weekly deep dive, or to pause everything for a few weeks.</li>"
            "<li><strong>Want to leave?</strong> The unsubscribe link at the foot of every issue works in one "
            "click, with no sign-in and no questions.</li>"
            "</ul>"
            "<p>For anything else, including corrections to a story, write to support@example.com. A person "
            "reads every message, usually within two working days.</p>"
        ),
    },
    {
        "slug": "advertise",
        "title": "Advertise with us",
        "show_in_footer": True,
        "position": 2,
        "body": (
            "<p>Each issue carries one sponsored highlight, clearly marked as such, placed after the lead "
            "stories. We accept sponsors whose product our readers could use this week: developer tools, "
            "courses, research events and services for teams building with machine learning.</p>"
            "<p>A highlight has a heading, about eighty words of body text and one link. We edit the copy for "
            "clarity and house style, and we turn down claims we cannot check. Sponsors receive the number of "
            "deliveries and the number of clicks on their link; they never receive reader addresses.</p>"
            "<p>To book a date, write to partners@example.com with your product, the week you have in mind and "
            "a draft of the text.</p>"
        ),
    },
    {
        "slug": "courses",
        "title": "Courses",
        "show_in_footer": False,
        "position": 10,
        "body": (
            "<p>Short, practical courses for people who work next to machine learning rather than inside it: "
            "product managers, editors, analysts and support leads.</p>"
            "<ul><li><strong>Reading a model card</strong>: what the numbers mean and which ones to doubt.</li>"
            "<li><strong>Evaluating an assistant for your team</strong>: a two-week trial plan with a scoring "
            "sheet.</li>"
            "<li><strong>Prompting for structured output</strong>: getting tables, not essays.</li></ul>"
        ),
    },
    {
        "slug": "guides",
        "title": "Guides",
        "show_in_footer": False,
        "position": 11,
        "body": (
            "<p>Long-form explainers that stay useful after the news cycle moves on. Each guide is reviewed "
            "every quarter and dated at the top, so you know how fresh it is.</p>"
            "<p>Start with <em>What a context window is, and why it fills up</em>, then <em>Running a small "
            "model on your own laptop</em>.</p>"
        ),
    },
    {
        "slug": "tools",
        "title": "Tools",
        "show_in_footer": False,
        "position": 12,
        "body": (
            "<p>Every Tool of the Day we have featured, with the steps we used to try it. We only list tools "
            "that a reader can try in under fifteen minutes without talking to a salesperson.</p>"
        ),
    },
    {
        "slug": "videos",
        "title": "Videos",
        "show_in_footer": False,
        "position": 13,
        "body": (
            "<p>Five-minute walkthroughs of the week's biggest story, recorded on Fridays. Each video has a "
            "full transcript underneath it for readers who prefer text.</p>"
        ),
    },
]

# Custom reader fields an editor defined; demo readers carry values for them.
CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"key": "city", "label": "City", "kind": "text", "position": 1},
    {"key": "plan", "label": "Plan", "kind": "choice", "choices": ["Free", "Supporter"], "position": 2},
    {"key": "member_since", "label": "Member since", "kind": "date", "position": 3},
    {"key": "events", "label": "Wants event invitations", "kind": "boolean", "position": 4},
]

SUPPORTERS_SEGMENT = "Supporters (custom field “Plan”)"

# Readers in a few time zones (Ada's is unknown: the publication's is used), so that "at 07:00 in each
# reader's time zone" on the send form has zones to spread over.
SUBSCRIBERS: list[dict[str, Any]] = [
    {
        "email": "ada.reader@example.org",
        "name": "Ada",
        "status": "active",
        "lists": ["daily-digest"],
        "attributes": {"city": "London", "plan": "Supporter", "member_since": "2021-03-04", "events": True},
    },
    {
        "email": "bram.reader@example.org",
        "name": "Bram",
        "status": "active",
        "lists": ["daily-digest", "weekly-deep-dive"],
        "attributes": {"city": "Utrecht", "plan": "Free"},
        "time_zone": "Europe/Amsterdam",
    },
    {
        "email": "chioma.reader@example.net",
        "name": "Chioma",
        "status": "active",
        "lists": ["weekly-deep-dive"],
        "attributes": {"city": "Lagos", "plan": "Supporter", "events": False},
        "time_zone": "Africa/Lagos",
    },
    {
        "email": "dev.reader@example.com",
        "name": "Dev",
        "status": "active",
        "lists": ["daily-digest"],
        "time_zone": "America/New_York",
    },
    {"email": "elena.pending@example.org", "name": "Elena", "status": "pending", "lists": ["daily-digest"]},
    {"email": "farid.pending@example.net", "name": "", "status": "pending", "lists": ["weekly-deep-dive"]},
]


def _lead(heading: str, body: str, details: list[tuple[str, str]], analysis: str, url: str) -> dict[str, Any]:
    return {
        "kind": "lead",
        "heading": heading,
        "body": body,
        "items": [{"label": label, "text": text} for label, text in details],
        "analysis": analysis,
        "link_url": url,
        "link_label": "Read the source",
    }


SENT_ISSUE: dict[str, Any] = {
    "slug": "small-models-have-a-big-week",
    "number": 127,
    "title": "Small models have a big week",
    "subject": "Small models have a big week",
    "preheader": (
        "A 3-billion-parameter model tops a coding board, a lab opens its eval kit, and a tool for meeting notes."
    ),
    "summary": (
        "A pocket-sized model beats giants at fixing code, a research lab publishes the tests it grades itself "
        "with, schools get a plain-language rulebook, and a translation service learns to say when it is unsure."
    ),
    "canonical_url": "https://example.com/newsletter/small-models-have-a-big-week",
    "cover_alt": (
        "A deep blue gradient with small glowing circles clustered around one larger circle, and the issue title."
    ),
    "days_ago": 3,
    "tags": ["Models", "Research", "Education"],
    "sections": [
        _lead(
            "A three-billion-parameter model tops the bug-fixing leaderboard",
            "<p>Larchmont Research released Sparrow-3B on Tuesday, a model small enough to run on a recent laptop, "
            "and by Thursday it sat first on the public PatchBench leaderboard, ahead of systems thirty times its "
            "size. PatchBench hands a model a failing test in a real open-source project and scores it on whether "
            "its patch makes the test pass without breaking anything else.</p>"
            "<p>The weights are published under a licence that allows commercial use, and Larchmont has also "
            "released the training recipe, though not the data. Within two days, hobbyists had the model running "
            "inside three popular code editors.</p>",
            [
                ("The Score", "Sparrow-3B fixed 61 percent of the 500 tasks, four points above the previous leader."),
                (
                    "The Trick",
                    "Larchmont trained it almost entirely on diffs and test logs rather than on finished source files.",
                ),
                ("The Footprint", "Quantised to four bits, the model needs about two gigabytes of memory."),
                (
                    "The Catch",
                    "On tasks that need changes in more than three files, its success rate falls below 20 percent.",
                ),
            ],
            "<p>The result says less about small models beating large ones than about what a benchmark rewards. "
            "PatchBench tasks are mostly local: one failing test, one or two files. A model trained on exactly "
            "that shape of problem will shine on it, and Larchmont is open about having done so.</p>"
            "<p>Still, for teams that want an assistant running inside their own network, the trade looks newly "
            "attractive. A model that handles the routine one-file fix on a developer's machine, and hands the "
            "sprawling refactor to a person, may be worth more than a brilliant one that needs a data-centre "
            "contract.</p>",
            "https://example.com/larchmont/sparrow-3b",
        ),
        _lead(
            "Halcyon Labs publishes the tests it grades its own models with",
            "<p>Halcyon Labs has released its internal evaluation suite, some 14,000 prompts with grading scripts, "
            "under an open licence. Until now outsiders could read the scores in Halcyon's model announcements but "
            "could not rerun them, a complaint researchers have made about nearly every large lab.</p>"
            "<p>The release comes with a short essay by Halcyon's head of evaluation, who argues that private "
            "test sets decay quickly anyway: once a benchmark's questions leak into training data, scores rise "
            "without anyone getting smarter. Publishing the suite, she writes, at least makes the leak "
            "visible.</p>",
            [
                (
                    "The Contents",
                    "Reasoning puzzles, long-document questions, refusal checks and a set of deliberately ambiguous "
                    "requests.",
                ),
                (
                    "The Surprise",
                    "About a tenth of the prompts are graded by another model, and Halcyon publishes that grader's "
                    "own error rate.",
                ),
                (
                    "The Gap",
                    "The safety-testing prompts that deal with dangerous chemistry were withheld and replaced by a "
                    "description.",
                ),
            ],
            "<p>Opening an evaluation suite is the cheap half of transparency; the expensive half is letting others "
            "find out that the numbers were flattering. Within a day, two university groups had reported that "
            "Halcyon's long-document score drops sharply when the question is moved from the end of the prompt to "
            "the beginning.</p>"
            "<p>That is exactly the kind of finding an open suite is for. If rival labs follow, model announcements "
            "could shift from a table of numbers to a link anyone can run, which would make this newsletter's job "
            "considerably easier.</p>",
            "https://example.org/halcyon/open-evals",
        ),
        _lead(
            "A school district writes its AI rules in plain language",
            "<p>The Westmere school district, which teaches about 40,000 pupils, has replaced a nineteen-page policy "
            "on classroom AI with a single page written for pupils and parents. The old document banned chatbots "
            "outright; the new one sorts assignments into three kinds and says what help is allowed in each.</p>",
            [
                ("The Green Work", "Brainstorming and practice quizzes, where any assistant may be used freely."),
                (
                    "The Amber Work",
                    "Drafts and projects, where pupils may use an assistant but must attach the conversation.",
                ),
                ("The Red Work", "Tests and final essays written in class, with no assistant at all."),
                (
                    "The Teachers",
                    "Staff get two paid training days a year and a shared bank of assignments marked by colour.",
                ),
            ],
            "<p>The district's own survey found that most pupils were already using assistants for homework, and "
            "that the ban mainly taught them to hide it. Asking pupils to attach the conversation turns the tool "
            "into something a teacher can mark, and it shows where the thinking happened.</p>"
            "<p>The colour scheme is also easy to argue with, which is a strength. Parents can see at a glance "
            "why a history essay is red and a vocabulary quiz is green, and a teacher who disagrees with a "
            "category can propose a change at the termly review instead of quietly ignoring the rules. Other "
            "districts have asked for the template; Westmere has published it under an open licence.</p>",
            "https://example.net/westmere/ai-guidance",
        ),
        _lead(
            "A translation service learns to say when it is unsure",
            "<p>Tessellate, a translation service used by courts and hospitals, now underlines phrases its model is "
            "unsure about and offers alternatives on hover. The feature grew out of a pilot in which interpreters "
            "reviewed machine drafts and kept missing the same kinds of mistakes: negations, dosages and names.</p>",
            [
                (
                    "The Method",
                    "The system translates each sentence several ways and flags phrases where the versions disagree.",
                ),
                (
                    "The Result",
                    "In the pilot, reviewers caught 38 percent more errors when the uncertain spans were marked.",
                ),
                ("The Cost", "Each page takes roughly three times as much computing to produce."),
            ],
            "<p>Confidence signals are one of the least glamorous and most useful ideas in applied machine "
            "learning. A fluent translation that is wrong is worse than a clumsy one, because nobody checks it. "
            "Marking doubt moves the reviewer's attention to where it pays, and for a hospital discharge note that "
            "is worth the extra computing several times over.</p>"
            "<p>The open question is whether people will learn to trust the underlines too much. If reviewers "
            "start reading only the marked phrases, the errors the model is confidently wrong about will pass "
            "unseen. Tessellate says its next pilot will plant deliberate mistakes in unmarked text to measure "
            "exactly that.</p>",
            "https://example.com/tessellate/uncertainty",
        ),
        _lead(
            "An energy regulator asks data centres to publish their hourly power use",
            "<p>The grid regulator in the fictional state of Cordell has proposed that any data centre drawing "
            "more than twenty megawatts publish its electricity use hour by hour, with a delay of one month. The "
            "proposal follows a summer in which two new training clusters pushed the regional grid close to its "
            "limit on the hottest afternoons.</p>",
            [
                ("The Threshold", "Twenty megawatts covers the largest dozen sites in the state and no small ones."),
                (
                    "The Format",
                    "Figures would go into a public spreadsheet, alongside the share bought from renewable sources.",
                ),
                ("The Pushback", "Operators argue that hourly figures reveal when a customer is training a model."),
                ("The Timeline", "Comments close in eight weeks; the rule could apply from next summer."),
            ],
            "<p>Most arguments about the energy cost of AI are conducted with annual totals, which hide the "
            "problem grids actually face: a few hours of very high demand. Hourly figures would let planners see "
            "whether training runs can be shifted to nights and windy days, as several operators already claim "
            "they do.</p>"
            "<p>The confidentiality worry is real but narrow, which is why the regulator built in a month's "
            "delay. A rival learning that someone trained a model four weeks ago learns very little that the "
            "eventual announcement will not tell them anyway.</p>",
            "https://example.org/cordell/grid-disclosure",
        ),
        {
            "kind": "highlight",
            "heading": "Learn to evaluate models in four evenings",
            "partner_name": "Quillmark Academy",
            "sponsor_label": "Special highlight from our network",
            "body": (
                "<p>Quillmark Academy's new evening course teaches product and engineering teams to test a language "
                "model against their own work instead of a public leaderboard. Over four sessions you build a small "
                "evaluation set from real tickets, write graders, and learn to read the results without fooling "
                "yourself. Sessions are recorded for anyone who misses one, and each comes with a worksheet. Readers "
                "of this newsletter get the first session free.</p>"
            ),
            "link_url": "https://example.org/quillmark/evals-course",
            "link_label": "Claim the free session",
            "items": [],
        },
        {
            "kind": "tool",
            "heading": "Minutely",
            "body": (
                "<p>Minutely turns a meeting recording into a one-page summary with decisions, open questions and "
                "owners, and it runs the transcription on your own computer, so the audio never leaves it. The summary "
                "step can use a local model too, or a hosted one if you paste in a key; the app says plainly which "
                "is in use before anything is processed.</p>"
            ),
            "link_url": "https://example.net/minutely",
            "link_label": "Get Minutely",
            "items": [
                {"text": "Install the desktop app and choose the small speech model when it asks."},
                {"text": "Drag in the recording of your last team meeting (an hour takes about four minutes)."},
                {"text": "Open the Decisions tab and check each entry against your own memory of the meeting."},
                {"text": "Export the page as Markdown and paste it into your team's notes."},
            ],
        },
        {
            "kind": "quick_links",
            "heading": "Light Bytes",
            "body": "",
            "items": [
                {
                    "text": (
                        "Basalt AI cut the price of its mid-sized model by half for batch jobs that can wait a day."
                    ),
                    "url": "https://example.com/basalt/batch-pricing",
                    "link_words": "cut the price of its mid-sized model by half",
                },
                {
                    "text": "A museum in Porto used image models to match 3,000 unlabelled photographs to its archive.",
                    "url": "https://example.org/porto-archive",
                    "link_words": "match 3,000 unlabelled photographs",
                },
                {
                    "text": (
                        "Researchers found that asking a model to explain its answer first made maths errors rarer."
                    ),
                    "url": "https://example.net/explain-first",
                    "link_words": "explain its answer first",
                },
                {
                    "text": "Open Meadow released a speech dataset of 200 hours recorded in eleven regional accents.",
                    "url": "https://example.org/open-meadow/accents",
                    "link_words": "a speech dataset of 200 hours",
                },
                {
                    "text": "A logistics firm reports its routing assistant saved 6 percent of fuel over one winter.",
                    "url": "https://example.com/routing-winter",
                    "link_words": "saved 6 percent of fuel",
                },
                {
                    "text": "Two libraries now offer free evening workshops on spotting generated images.",
                    "url": "https://example.net/library-workshops",
                },
                {
                    "text": "A study of 900 code reviews found that reviewers trusted generated patches too readily.",
                    "url": "https://example.org/review-trust",
                    "link_words": "reviewers trusted generated patches too readily",
                },
                {
                    "text": "A reading group for parents now meets monthly to try homework assistants together.",
                    "url": "https://example.net/parents-reading-group",
                    "link_words": "A reading group for parents",
                },
                {
                    "text": "Halcyon's chatbot can now read spreadsheets of up to a million rows.",
                    "url": "https://example.com/halcyon/spreadsheets",
                    "link_words": "can now read spreadsheets",
                },
            ],
        },
    ],
}

DRAFT_ISSUE: dict[str, Any] = {
    "slug": "agents-get-a-budget",
    "number": 128,
    "title": "Agents get a budget",
    "subject": "Agents get a budget, and other ways to keep software honest",
    "preheader": "Spending limits for AI agents, a weather model that runs on a phone, and a tool that reads receipts.",
    "summary": (
        "A payments company gives AI agents their own spending limits, a weather model fits on a phone, a "
        "publishers' group agrees on labels for generated pictures, and a hospital trial shows where "
        "transcription helps."
    ),
    "canonical_url": "https://example.com/newsletter/agents-get-a-budget",
    "cover_alt": (
        "A warm orange gradient with six rising bars and a rounded frame above the tallest, and the issue title."
    ),
    "days_ago": None,
    "tags": ["Agents", "Policy", "Health"],
    "sections": [
        _lead(
            "A payments company gives AI agents their own spending limits",
            "<p>Ledgerline, which processes card payments for small online shops, now issues virtual cards meant to "
            "be handed to software agents rather than people. Each card carries a budget, a list of shops it may "
            "pay, and an expiry measured in hours, so an assistant booking a train ticket cannot also buy a "
            "television.</p>"
            "<p>The cards work anywhere ordinary cards are accepted, so shops need to change nothing. Ledgerline "
            "charges the same fee as for its other cards and says it has no plans to take a cut of what the "
            "agents spend.</p>",
            [
                ("The Limits", "Owners set a total, a per-payment ceiling and the categories of merchant allowed."),
                (
                    "The Receipt",
                    "Every payment carries a note written by the agent explaining why it spent the money.",
                ),
                (
                    "The Brake",
                    "A payment above a threshold pauses and sends the owner a one-tap approval request.",
                ),
                ("The Pilot", "Three travel-booking start-ups have used the cards for six weeks."),
            ],
            "<p>Most worries about autonomous agents come down to what they can do with your money, and the usual "
            "answer has been to keep a person approving every step, which defeats the point. Ledgerline's cards "
            "move the safeguard from the agent, which may be confused or manipulated, to the payment network, "
            "which is not.</p>"
            "<p>The idea is old: companies have given employees cards with limits for decades. What is new is "
            "that the cardholder cannot be reasoned with, and that the limit is the only part of the system whose "
            "behaviour is fully predictable.</p>",
            "https://example.com/ledgerline/agent-cards",
        ),
        _lead(
            "A weather model small enough to run on a phone",
            "<p>A team at the Nordvik Institute has trained a forecasting model that predicts rain for the next six "
            "hours at one-kilometre resolution and fits in 80 megabytes. It runs on a mid-range phone in under a "
            "second, using only the last hour of radar images and the phone's own location.</p>"
            "<p>The institute has released the model and a small demonstration app, and says two national weather "
            "services are testing it as a fallback for when their own servers are overloaded during storms.</p>",
            [
                (
                    "The Accuracy",
                    "For rain in the next hour it matches the national service's forecast in most tests.",
                ),
                ("The Weakness", "Beyond three hours it falls behind, and it cannot see storms that have not formed."),
                ("The Data", "It was trained on eight years of radar images from four countries."),
            ],
            "<p>Short-range rain forecasts are the ones people actually check, usually while deciding whether to "
            "cycle home. Running the model on the phone means it keeps working with a weak connection and that a "
            "weather app no longer needs to send your location to a server every few minutes.</p>"
            "<p>It also hints at a broader pattern. Many forecasting and sensing tasks were moved to the cloud "
            "because the models were large, not because the data needed to travel. As small models catch up on "
            "narrow tasks, expect more of them to come home to the device that gathered the data in the first "
            "place.</p>",
            "https://example.org/nordvik/pocket-nowcast",
        ),
        _lead(
            "Publishers agree on a label for generated pictures",
            "<p>Twenty-two news publishers have signed a short agreement on how to caption images made or heavily "
            "altered by software. The label reads \u201cGenerated image\u201d or \u201cAltered image\u201d, sits at "
            "the start of the caption, and links to a page explaining what was done.</p>"
            "<p>The agreement took four months to negotiate, mostly over where to draw the line between an "
            "ordinary edit and an alteration. The final text settles on a simple test: would a reader who saw the "
            "original feel misled?</p>",
            [
                ("The Scope", "It covers illustrations, photo edits that change meaning, and composite images."),
                ("The Exception", "Routine colour correction and cropping need no label."),
                (
                    "The Record",
                    "Each publisher keeps the prompt or editing steps for at least two years, for complaints.",
                ),
                ("The Review", "The signatories will publish a joint report on how readers responded in a year."),
            ],
            "<p>Readers do not need a technical watermark so much as a sentence they can see. A common wording "
            "matters because a label that differs from site to site teaches readers to ignore all of them. The "
            "harder test will be the first time a signatory runs a striking generated image on a front page and "
            "has to decide how large the label should be.</p>"
            "<p>Notably absent from the list are the largest picture agencies, which supply many of the images "
            "publishers run. Until they adopt the same wording, an image can arrive at a newsroom already altered "
            "and unlabelled, and the promise in the caption will only be as good as the supplier's records.</p>",
            "https://example.net/publishers/image-labels",
        ),
        _lead(
            "A hospital trial shows where transcription helps, and where it does not",
            "<p>Doctors at Riverside General spent twelve weeks using an assistant that listens to consultations and "
            "drafts the clinical note. The hospital has published the results, including the parts that went "
            "badly.</p>"
            "<p>Forty doctors across general medicine and outpatient clinics took part, and every patient was "
            "asked for consent before the microphone was switched on. About one in seven said no, a figure the "
            "hospital reports without comment.</p>",
            [
                ("The Time", "Doctors spent about a third less time writing notes after each appointment."),
                (
                    "The Errors",
                    "One draft in twelve contained a mistake, most often a medicine dose or a left-right confusion.",
                ),
                (
                    "The Patients",
                    "Nine in ten said the doctor looked at them more and at the screen less during the visit.",
                ),
            ],
            "<p>The hospital's conclusion is sensible and unexciting: the assistant is worth keeping for routine "
            "appointments, but every draft must be read before it is signed, and the software now highlights "
            "numbers and body sides so the reader's eye goes to them first. Time saved on typing is partly spent "
            "on checking, and the trial counts that honestly.</p>"
            "<p>The patients' answers may matter most. Eye contact sounds like a soft measure, but it is one that "
            "doctors have said for years they lost to the keyboard. If a careful, checked assistant gives some of "
            "it back, that is a benefit no time sheet will record.</p>",
            "https://example.com/riverside/scribe-trial",
        ),
        _lead(
            "A popular open-source project pauses generated contributions",
            "<p>The maintainers of Loom, a widely used library for reading image files, have asked contributors "
            "to stop submitting patches written mainly by assistants for the next six months. In a short note they "
            "say the volume of plausible but untested changes has outgrown the four volunteers who review them.</p>",
            [
                ("The Numbers", "Pull requests tripled this year, while the share merged fell from half to a fifth."),
                (
                    "The Rule",
                    "Contributors tick a box saying a person wrote and ran the change; reviewers may close any that "
                    "fail.",
                ),
                ("The Exception", "Translations of the documentation are still welcome, with or without help."),
            ],
            "<p>The note is careful not to call assistants useless; several maintainers say they use them daily. "
            "The problem is the cost of review, which falls on a handful of unpaid people while the cost of "
            "writing a patch has fallen close to zero. Until that balance changes, a pause is a blunt but honest "
            "way of protecting the people a project cannot replace.</p>"
            "<p>Other projects are watching closely. If the pause brings the review queue back under control, "
            "expect similar notes elsewhere, and perhaps a new kind of contribution guide that says not whether "
            "an assistant may be used, but what a person must have checked before pressing submit.</p>",
            "https://example.net/loom/contribution-pause",
        ),
        {
            "kind": "highlight",
            "heading": "Ship an agent without giving it the keys",
            "partner_name": "Guardrail Works",
            "sponsor_label": "Special highlight from our network",
            "body": (
                "<p>Guardrail Works makes a small proxy that sits between your agent and the services it calls. It "
                "checks every request against rules you write in plain YAML, such as which addresses it may email or "
                "how many records it may delete, and records each decision for later review. The free tier covers "
                "one agent and ten thousand requests a month, and the rules file lives in your own repository, so "
                "changes "
                "to what the agent may do go through the same review as any other code.</p>"
            ),
            "link_url": "https://example.org/guardrail-works/start",
            "link_label": "Start free",
            "items": [],
        },
        {
            "kind": "tool",
            "heading": "Tallyslip",
            "body": (
                "<p>Tallyslip reads photographs of receipts, pulls out the date, shop, total and tax, and files "
                "them into a spreadsheet you own. It is handy for anyone who has ever put off an expense claim "
                "because of a shoebox of paper. Receipts in eight currencies are recognised, and the photographs are "
                "deleted from its servers once the numbers are extracted.</p>"
            ),
            "link_url": "https://example.com/tallyslip",
            "link_label": "Try Tallyslip",
            "items": [
                {"text": "Sign in with an email address and connect a new, empty spreadsheet."},
                {"text": "Photograph five receipts with your phone, one at a time, on a dark surface."},
                {"text": "Check the extracted totals; tap any amount that is wrong to correct it."},
            ],
        },
        {
            "kind": "quick_links",
            "heading": "Light Bytes",
            "body": "",
            "items": [
                {
                    "text": (
                        "Larchmont says a 7-billion-parameter sibling of Sparrow is due before the end of the year."
                    ),
                    "url": "https://example.com/larchmont/roadmap",
                    "link_words": "a 7-billion-parameter sibling of Sparrow",
                },
                {
                    "text": (
                        "A city council now publishes every prompt its staff chatbot is given, minus personal data."
                    ),
                    "url": "https://example.org/council-prompts",
                    "link_words": "publishes every prompt its staff chatbot is given",
                },
                {
                    "text": "An open model for reading handwritten forms reached 95 percent accuracy on census pages.",
                    "url": "https://example.net/census-handwriting",
                    "link_words": "reached 95 percent accuracy on census pages",
                },
                {
                    "text": "Basalt AI added a setting that stops its assistant from browsing the web during a chat.",
                    "url": "https://example.com/basalt/no-browse",
                    "link_words": "stops its assistant from browsing the web",
                },
                {
                    "text": "A survey of 2,000 office workers found most use assistants for email, few for numbers.",
                    "url": "https://example.org/office-survey",
                    "link_words": "most use assistants for email, few for numbers",
                },
                {
                    "text": "Researchers showed that a model's answers change when questions are asked in a rush.",
                    "url": "https://example.net/hurried-prompts",
                },
                {
                    "text": "A farming co-operative uses drone images and a small model to count seedlings per row.",
                    "url": "https://example.com/seedling-count",
                    "link_words": "count seedlings per row",
                },
                {
                    "text": "Tessellate's uncertainty highlighting is now available in all fourteen of its languages.",
                    "url": "https://example.org/tessellate/all-languages",
                    "link_words": "uncertainty highlighting",
                },
                {
                    "text": "A chess club hosted a tournament where each player had an assistant but only ten queries.",
                    "url": "https://example.net/ten-queries",
                    "link_words": "each player had an assistant but only ten queries",
                },
            ],
        },
    ],
}

ISSUES: list[dict[str, Any]] = [SENT_ISSUE, DRAFT_ISSUE]


# The template editors start each daily issue from (REFERENCE-ISSUE.md's
# shape): three lead stories, the sponsored highlight with its label, the
# tool of the day and the quick links. Only the texts that never change are
# here; each day's headings, bodies and links are written into the new draft.
def _template_lead() -> dict[str, Any]:
    return {"kind": "lead", "heading": "", "link_label": "Read the source", "items": []}


DAILY_TEMPLATE: dict[str, Any] = {
    "name": "Daily digest (reference shape)",
    # What every daily issue starts with (the editor may change each one).
    "subject": "The Newsroom Daily",
    "preheader": "Three stories, one tool to try and the quick links, in eight minutes.",
    "authors": ["editor"],
    "shape": {
        "sections": [
            _template_lead(),
            _template_lead(),
            _template_lead(),
            {"kind": "highlight", "heading": "", "sponsor_label": "Special highlight from our network", "items": []},
            {"kind": "tool", "heading": "", "link_label": "Try it", "items": []},
            {"kind": "quick_links", "heading": "Light Bytes", "items": []},
        ]
    },
}


# The masthead editors set under "Publication and masthead" (the name stays
# PUBLISHER_NAME's, so that the settings and the demo agree).
PUBLICATION: dict[str, Any] = {
    "tagline": "The AI news worth your morning, in eight minutes",
    "logo_alt": "The Newsroom Daily logo",
    "logo_display_width": 56,
    "brand_colour": "#1d4ed8",
    "replies_welcome": True,
    "reply_prompt": "Got a tip, a correction or a question? Reply to this email: the editors read every reply.",
}
# Sequences (automations): readers who confirm on the weekly list get this series.
# The Welcome sequence (the welcome email as its first step) is made by automations itself.
SEQUENCES: list[dict[str, Any]] = [
    {
        "name": "Weekly deep dive: getting started",
        "list": "weekly-deep-dive",
        "steps": [
            {
                "subject": "How the weekly deep dive works",
                "preheader": "One long read every Sunday, and what to expect from it.",
                "body": "<p>Every Sunday we pick one story and follow it all the way down: the people, the "
                "numbers and what happens next.</p><p>Reply to this email if there is a story you want us to "
                "dig into.</p>",
                "delay": (0, "minutes"),
            },
            {
                "subject": "Three deep dives readers liked most",
                "preheader": "A start on the archive.",
                "body": "<p>New here? These are the three deep dives readers forwarded most this year. The "
                '<a href="/issues/">archive</a> has every one of them.</p>',
                "delay": (2, "days"),
                "send_at": "09:00",
            },
            {
                "subject": "Is the weekly deep dive right for you?",
                "preheader": "Pick your newsletters, or pause them.",
                "body": "<p>You have had a week of the deep dive. If once a week is too much, or not enough, "
                "change your newsletters with the preferences link below.</p>",
                "delay": (5, "days"),
            },
        ],
    },
]
