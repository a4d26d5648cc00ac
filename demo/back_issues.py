"""Earlier issues for the demo archive: enough to fill more than one page of
it (twelve to a page), sharing tags so each tag page and an issue's related
issues have something to show, and some without a cover so their link
previews use the generated social card. Short issues: one lead story, a tool
and quick links each."""

from __future__ import annotations

from typing import Any

# (slug, title, summary, tags, lead heading, lead paragraph, why it matters, tool name, tool text, quick links)
_ROWS: list[tuple[str, str, str, list[str], str, str, str, str, str, list[str]]] = [
    (
        "hospitals-test-note-taking-assistants",
        "Hospitals test note-taking assistants",
        "Three hospitals let an assistant draft clinic notes, and doctors get an hour of their day back.",
        ["Health", "Agents"],
        "Clinic notes drafted while the doctor listens",
        "Three teaching hospitals ran a twelve-week trial in which an assistant drafted the note of each outpatient "
        "visit from the conversation, for the doctor to correct and sign.",
        "Paperwork is the part of medicine doctors say they would drop first. The trial measured corrections, not "
        "impressions: one note in nine needed a change to a medicine or a dose.",
        "Scribeline",
        "Scribeline records a conversation on a phone and drafts structured notes you edit before saving.",
        [
            "A dental chain now offers patients a plain-language summary after each visit.",
            "Nurses in Leeds built a shared library of prompts for discharge letters.",
        ],
    ),
    (
        "a-public-benchmark-for-translation",
        "A public benchmark for translation gets harder",
        "The most used translation test adds idioms and legal text, and every system's score drops.",
        ["Research", "Models"],
        "Idioms and contracts join the translation test",
        "The maintainers of OpenTrans, the benchmark most translation papers report, added four thousand idioms "
        "and six hundred clauses of contracts in eleven languages.",
        "A benchmark that every system passes stops telling buyers anything. Scores fell by a fifth, and the order "
        "of the top five changed.",
        "Glossa",
        "Glossa compares two translations of the same paragraph side by side and marks where they disagree.",
        [
            "A court in Tallinn publishes machine translations of rulings, marked as such.",
            "Researchers released a test set of regional Spanish slang.",
        ],
    ),
    (
        "schools-write-their-own-ai-rules",
        "Schools write their own AI rules",
        "A district publishes one page of rules for pupils and teachers, written with the pupils.",
        ["Education", "Policy"],
        "One page of rules, written with the pupils",
        "The Riverside district replaced a twenty-page policy with one page that says what pupils may use an "
        "assistant for, what they must say when they do, and what is marked as cheating.",
        "Rules pupils helped write are rules pupils can explain. Teachers report fewer disputes about marks in the "
        "first term under the new page.",
        "Classnote",
        "Classnote turns a lesson plan into three levels of reading for the same class.",
        [
            "A university now allows assistants in exams that are taken with the book open.",
            "Teachers in Lyon share a list of tasks assistants still get wrong.",
        ],
    ),
    (
        "agents-learn-to-ask-first",
        "Agents learn to ask before they act",
        "A new agent framework pauses and asks whenever an action cannot be undone.",
        ["Agents", "Research"],
        "Asking first, when there is no undo",
        "Tessel's open-source framework sorts each action an agent plans into those that can be undone and those "
        "that cannot, and stops for a person's approval on the second kind.",
        "Most mistakes an assistant makes are cheap to fix; a sent email or a deleted file is not. Sorting actions "
        "this way keeps the approvals few enough that people read them.",
        "Undoable",
        "Undoable keeps a log of every change an agent made to your files and reverses any of them in one click.",
        [
            "A travel site lets its booking agent hold a fare for ten minutes before paying.",
            "Researchers measured how often agents ignore a stop instruction: one time in forty.",
        ],
    ),
    (
        "small-models-on-old-laptops",
        "Small models on old laptops",
        "A guide to running a capable model on a five-year-old laptop, and what it can and cannot do.",
        ["Models", "Tools"],
        "A five-year-old laptop is enough",
        "We ran six small open models on a 2021 laptop with 16 GB of memory and timed each on summaries, "
        "e-mail drafts and simple code.",
        "Running a model yourself means your text never leaves the machine. The best of the six answered in "
        "under four seconds and was good enough for drafts, not for facts.",
        "Hearth",
        "Hearth downloads, runs and updates small models on your own computer behind one window.",
        [
            "A charity ships refurbished laptops with a local assistant installed.",
            "An open model for Welsh was released under a permissive licence.",
        ],
    ),
    (
        "regulators-ask-for-model-cards",
        "Regulators ask for model cards",
        "A draft rule would make companies publish what their models were tested on, in plain words.",
        ["Policy", "Research"],
        "What was it tested on? Say so",
        "The draft rule asks any company selling a model to the public sector to publish a model card: what it is "
        "for, what it was tested on, and where it fails.",
        "Buyers in the public sector rarely have the staff to test a model themselves. A published card turns a "
        "sales claim into a statement a company can be held to.",
        "Cardkit",
        "Cardkit fills in a model card from your evaluation results and flags the sections still empty.",
        [
            "A city council published the test results of its chatbot for housing questions.",
            "A standards body opened a consultation on labels for generated images.",
        ],
    ),
    (
        "a-cheaper-way-to-check-facts",
        "A cheaper way to check facts",
        "Newsrooms share one database of checked claims, and assistants cite it.",
        ["Research", "Tools"],
        "One shared list of checked claims",
        "Forty newsrooms now add every claim they check to one open database, with the verdict and the sources, "
        "and two assistants cite it when a reader asks about a claim it holds.",
        "Checking a claim takes hours; repeating a check someone has done takes seconds. The database had 90,000 "
        "entries at launch.",
        "Claimdesk",
        "Claimdesk searches the shared database from a browser button as you read.",
        [
            "A broadcaster labels every generated voice in its podcasts.",
            "A study found that corrections spread a tenth as far as the claims they correct.",
        ],
    ),
    (
        "hearing-aids-that-translate",
        "Hearing aids that translate",
        "A hearing-aid maker adds live translation, running on the device.",
        ["Health", "Models"],
        "Translation inside the ear",
        "Audira's new hearing aids translate speech in eight languages on the device itself, with a delay of about "
        "a second.",
        "Running on the device keeps conversations private and works without a signal. Audira says the battery "
        "lasts a full day with translation on for two hours.",
        "Captionly",
        "Captionly shows live captions of any conversation on a phone, without sending audio anywhere.",
        [
            "A theatre offers captioned glasses at every performance.",
            "Researchers built a model that recognises sign-language fingerspelling from a webcam.",
        ],
    ),
    (
        "coding-assistants-in-the-classroom",
        "Coding assistants in the classroom",
        "A first-year programming course lets students use an assistant, and changes how it marks them.",
        ["Education", "Tools"],
        "Marking the explanation, not the code",
        "A first-year course at Northgate now lets students use an assistant for every exercise, and marks them on "
        "a short spoken explanation of what their code does.",
        "When writing code gets cheap, understanding it is what is left to teach. Pass rates stayed the same; "
        "students said the explanations were the hardest part.",
        "Rubberduck",
        "Rubberduck asks you questions about your own code until you can explain each line.",
        [
            "A coding school publishes the prompts its teachers use.",
            "An exam board will allow assistants in coursework from next year.",
        ],
    ),
    (
        "an-agent-that-files-expenses",
        "An agent that files expenses",
        "An accounting firm's agent reads receipts and files expenses, and knows when to stop.",
        ["Agents", "Tools"],
        "Receipts in, expenses out",
        "Tallyhouse's agent reads a photo of a receipt, matches it to a card payment and files the expense, asking "
        "a person only when the two disagree.",
        "Expense claims are small, frequent and boring: the best kind of work to hand over. The agent filed nine in "
        "ten on its own in a month-long trial.",
        "Receipted",
        "Receipted scans receipts into a spreadsheet with the date, the shop and the tax.",
        [
            "A bank lets customers ask its assistant why a payment was declined.",
            "A tax office publishes which questions its chatbot will not answer.",
        ],
    ),
    (
        "what-the-new-privacy-rules-mean",
        "What the new privacy rules mean for assistants",
        "New guidance says what an assistant may remember about you, and for how long.",
        ["Policy", "Agents"],
        "What an assistant may remember",
        "The data regulator's new guidance says an assistant must tell you what it remembers about you, let you "
        "delete any of it, and forget a conversation after a year unless you ask it not to.",
        "Memory is what makes an assistant useful and what makes it risky. The guidance turns a product choice into "
        "a right readers can use.",
        "Forgetme",
        "Forgetme lists what the assistants you use say they remember, with links to delete it.",
        [
            "Two assistants now show a memory page by default.",
            "A consumer group tested how long deleted conversations stay on servers.",
        ],
    ),
    (
        "weather-forecasts-get-local",
        "Weather forecasts get local",
        "A weather model forecasts rain street by street, an hour ahead.",
        ["Research", "Models"],
        "Rain, street by street",
        "A model trained on radar images forecasts rain for each square kilometre for the next hour, and beat the "
        "national service's short forecast in a year of tests.",
        "An hour's warning of a storm over one street matters to people who work outside. The model runs in "
        "seconds, so it can be updated every five minutes.",
        "Drizzle",
        "Drizzle sends one alert when rain is ten minutes from where you are.",
        [
            "Farmers in Kenya get forecasts by text message from an open model.",
            "A river authority uses models to predict floods two days ahead.",
        ],
    ),
    (
        "the-year-in-small-models",
        "The year in small models",
        "Looking back: the small models that mattered this year, and what they were good for.",
        ["Models", "Education"],
        "Twelve months of small models",
        "We picked the five small models readers wrote to us about most this year, and what each turned out to be "
        "good for once the launch posts were forgotten.",
        "Small models got good enough for everyday drafting this year. The gap that remains is facts: none of the "
        "five should be trusted with a date or a number unchecked.",
        "Modelshelf",
        "Modelshelf compares small models on the tasks you choose, on your own computer.",
        [
            "Our readers' survey: two in three now use an assistant every week.",
            "The most read issue of the year was about schools writing their own rules.",
        ],
    ),
]

# Tools and quick links point at made-up addresses under example.* domains.
# A few carry a cover; the rest show the generated social card in link previews.
_COVERED = {"hospitals-test-note-taking-assistants", "small-models-on-old-laptops", "weather-forecasts-get-local"}


def _issue(n: int, row: tuple[str, str, str, list[str], str, str, str, str, str, list[str]]) -> dict[str, Any]:
    slug, title, summary, tags, heading, body, analysis, tool, tool_text, links = row
    return {
        "slug": slug,
        # Numbered back from the demo's sent issue (No. 127, three days ago).
        "number": 126 - n,
        "title": title,
        "subject": title,
        "preheader": summary,
        "summary": summary,
        "canonical_url": f"https://example.com/newsletter/{slug}",
        "cover_alt": f"A gradient with simple shapes, and the title “{title}”." if slug in _COVERED else "",
        "cover": slug in _COVERED,
        "days_ago": 5 + 2 * n,
        "tags": tags,
        "sections": [
            {
                "kind": "lead",
                "heading": heading,
                "body": f"<p>{body}</p>",
                "items": [],
                "analysis": f"<p>{analysis}</p>",
                "link_url": f"https://example.com/stories/{slug}",
                "link_label": "Read the source",
            },
            {
                "kind": "tool",
                "heading": tool,
                "body": f"<p>{tool_text}</p>",
                "link_url": f"https://example.net/{tool.lower()}",
                "link_label": f"Try {tool}",
                "items": [{"text": "Install it and open it once to finish the set-up."}],
            },
            {
                "kind": "quick_links",
                "heading": "Light Bytes",
                "body": "",
                "items": [{"text": text, "url": f"https://example.org/{slug}/{k}"} for k, text in enumerate(links)],
            },
        ],
    }


BACK_ISSUES: list[dict[str, Any]] = [_issue(n, row) for n, row in enumerate(_ROWS)]
