"""How the keyword index and the answerer read words: initialisms and phrases."""

from service.rag.text import Tokenizer, pairs, words


def test_a_dotted_initialism_is_the_word_written_without_dots():
    assert words("Trade with the U.K. and the U.S.A.") == ["trade", "with", "the", "uk", "and", "the", "usa"]
    assert Tokenizer().tokens("the U.K. economy") == Tokenizer().tokens("the UK economy")


def test_abbreviations_and_names_keep_their_words():
    assert words("Mr. Ste-Marie asked") == ["mr", "ste", "marie", "asked"]


def test_pairs_join_each_token_to_the_next():
    tokens = Tokenizer().query_tokens("What did they say of the long-term care homes?")
    assert tokens == ["long", "term", "care", "home"]
    assert pairs(tokens) == ["long_term", "term_care", "care_home"]
    assert pairs(["one"]) == [] and pairs([]) == []
