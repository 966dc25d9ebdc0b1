"""Prompt files (`prompts/*.txt`) loaded as LangChain templates, checked against their declared variables.

Each file opens with a header that declares the variables its text uses:

    ---
    variables: sources, question
    ---
    text with {sources} and {question}

Loading fails loudly when the text uses a variable the header does not declare, or declares
one the text never uses: a renamed placeholder would otherwise go unnoticed until a model
answers from an empty prompt.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

from service.rag.abstain import ABSTAIN_PHRASE

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class PromptError(ValueError):
    """A prompt file is missing, malformed, or its variables do not match its header."""


def load_prompt(name: str, folder: Path = PROMPTS_DIR) -> PromptTemplate:
    """`prompts/<name>.txt` as a PromptTemplate whose variables are exactly the declared ones."""
    path = folder / f"{name}.txt"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt file {path} does not exist") from None
    head, sep, body = raw.partition("\n---\n")
    if not head.startswith("---\n") or not sep:
        raise PromptError(f"{path}: must open with a '---' header declaring 'variables: …', closed by '---'")
    declared: set[str] = set()
    for line in head.removeprefix("---\n").splitlines():
        key, _, value = line.partition(":")
        if key.strip() != "variables":
            raise PromptError(f"{path}: unknown header line {line!r} (only 'variables:' is allowed)")
        declared |= {v.strip() for v in value.split(",") if v.strip()}
    try:
        template = PromptTemplate.from_template(body.strip("\n"))
    except ValueError as exc:
        raise PromptError(f"{path}: {exc}") from None
    used = set(template.input_variables)
    if used - declared:
        raise PromptError(f"{path}: uses undeclared variable(s) {', '.join(sorted(used - declared))}")
    if declared - used:
        raise PromptError(f"{path}: declares variable(s) {', '.join(sorted(declared - used))} it never uses")
    return template


def answer_prompt(folder: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """System + user answer prompt; its remaining variables are `sources` and `question`, and
    `outline` may be given too (a digest's points, written with `outline_prompt`; empty otherwise)."""
    system = load_prompt("answer_system", folder)
    user = load_prompt("answer_user", folder)
    prompt = ChatPromptTemplate.from_messages([("system", system.template), ("human", user.template)])
    return prompt.partial(abstain_phrase=ABSTAIN_PHRASE, outline="")


def condense_prompt(folder: Path = PROMPTS_DIR) -> PromptTemplate:
    """Follow-up rewrite prompt; variables `history` and `question`."""
    return load_prompt("condense", folder)


def outline_prompt(folder: Path = PROMPTS_DIR) -> PromptTemplate:
    """A digest's points for the model to write the summary from (the answer prompt's `outline`);
    variable `outline`."""
    return load_prompt("digest_outline", folder)
