"""Ready-made item pipelines for projects built on the framework.

The pipelines every crawl needs (validate, dedup, store) and the extraction
spider middleware are part of the framework (:mod:`crawler.pipelines`,
:mod:`crawler.spidermiddlewares`) and enabled by ``crawler.settings``.  This
package holds the replaceable ones a project would write for its own items;
enable them in ``ITEM_PIPELINES``.
"""
