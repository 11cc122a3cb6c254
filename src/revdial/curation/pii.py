"""PII scrubbing in curation: the second line of defence.

Seeds are scrubbed when they are built (`revdial.seeds.scrub.scrub_review`, on the raw review lines, before
anything joins them); curation runs the same scrub again on the review text just before it is rendered into a prompt,
so a seeds directory written by an older revdial or by hand is scrubbed too. One definition: this module re-exports
the seeds' scrubber (curation reads seeds, never the other way round).
"""

from __future__ import annotations

from revdial.seeds.scrub import PII_KINDS, scrub_pii

__all__ = ["PII_KINDS", "scrub_pii"]
