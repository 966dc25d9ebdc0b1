"""Retrieval-augmented answering, one stage per module; a question passes each stage once:

pipeline.py   the one decision tree (astream; answer/run drain it)
retrieve.py   candidates, best fused score first          -> rerank.py   the passages (top k)
evidence.py   what the built-in answerer weighs           -> extractive.py  quotes, or abstains
llm.py        a generated answer (prompts.py)             -> filters.py  citations.py, links.py
response.py   the one ChatResponse builder; abstain.py the one abstention rule; text.py words

HTTP-free (tests/service/rag/test_layering.py): chat_types.py and library_types.py are what it
takes and gives, stages.py tells an observer the time of each stage; service/api and service/ops
import these, never the reverse.
"""
