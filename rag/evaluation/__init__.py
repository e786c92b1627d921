"""The grounding evaluation suite: questions -> the same ``kb.ask`` the chat uses -> scores.

Modules, in the order one question flows through them:

- :mod:`~rag.evaluation.records`: the typed question records and their loader;
- :mod:`~rag.evaluation.text`: the answer-matching normalisation (``norm``);
- :mod:`~rag.evaluation.support`: claims and whether passages support them (word overlap);
- :mod:`~rag.evaluation.quotes`: the same claims by exact quotation (a rule apart);
- :mod:`~rag.evaluation.points`: key points of list, summary and why/how answers;
- :mod:`~rag.evaluation.judge`: the optional LLM judge of the same question;
- :mod:`~rag.evaluation.grade`: one :class:`~rag.types.Answer` -> one scored record;
- :mod:`~rag.evaluation.metrics`: the metric functions and the overall scores;
- :mod:`~rag.evaluation.report`, :mod:`~rag.evaluation.chart`: JSON, Markdown and PNG;
- :mod:`~rag.evaluation.compare`, :mod:`~rag.evaluation.gate`: against a report, thresholds;
- :mod:`~rag.evaluation.runner`: ``rag eval``;
- :mod:`~rag.evaluation.calibrate`: a report's scores -> the gate bounds in eval/thresholds.json;
- :mod:`~rag.evaluation.requote`: re-score a saved report's claims by exact quotation.

The metric definitions are in ``eval/README.md`` ("Metrics").
"""
