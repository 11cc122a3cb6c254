"""A minimal in-process search engine for argilla-server 2.8.0, so the test server needs no Elasticsearch.

argilla-server keeps records in its SQL database and mirrors them into a search engine for search, filters,
metrics and progress. This engine keeps that mirror as plain dicts (one document per record, the same shape
as the Elasticsearch documents of `argilla_server.search_engine.commons`) and answers queries by a linear scan.
It is for tests only: one server process, a few thousand records, no persistence.

Import this module (it registers itself as ``memory``) and set ``ARGILLA_SEARCH_ENGINE=memory`` before serving.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SimilarityOrder, SortOrder
from argilla_server.models import (
    Dataset,
    MetadataProperty,
    Record,
    Response,
    Suggestion,
    User,
    VectorSettings,
)
from argilla_server.search_engine.base import (
    AndFilter,
    Filter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)

ENGINE_NAME = "memory"

# Shared by every engine instance: the server opens a new instance per request (`get_search_engine`).
_INDEXES: dict[UUID, dict[UUID, dict[str, Any]]] = {}
_DATASET_OF_RECORD: dict[UUID, UUID] = {}


def reset() -> None:
    _INDEXES.clear()
    _DATASET_OF_RECORD.clear()


def _response_document(response: Response) -> dict[str, Any]:
    return {
        "id": response.id,
        "status": str(response.status.value if hasattr(response.status, "value") else response.status),
        "user_id": response.user_id,
        "values": {
            question: (value or {}).get("value") for question, value in (response.values or {}).items()
        },
    }


def _suggestion_document(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "type": suggestion.type,
        "agent": suggestion.agent,
        "score": suggestion.score,
        "value": suggestion.value,
    }


def _record_document(record: Record) -> dict[str, Any]:
    dataset = record.dataset
    metadata = record.metadata_ or {}
    return {
        "id": record.id,
        "external_id": record.external_id,
        "fields": dict(record.fields or {}),
        "status": str(record.status.value if hasattr(record.status, "value") else record.status),
        "inserted_at": record.inserted_at,
        "updated_at": record.updated_at,
        "metadata": {
            prop.name: metadata[prop.name]
            for prop in dataset.metadata_properties
            if metadata.get(prop.name) is not None
        },
        "responses": {response.id: _response_document(response) for response in record.responses},
        "suggestions": {s.question.name: _suggestion_document(s) for s in record.suggestions},
        "vectors": {str(v.vector_settings_id): list(v.value) for v in record.vectors},
    }


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _field_text(value: Any) -> str:
    if isinstance(value, list):  # a chat field: [{role, content}, ...]
        return " ".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    return "" if value is None else str(value)


def _matches_values(candidates: list, filter: Filter) -> bool:
    if isinstance(filter, TermsFilter):
        wanted = {str(v) for v in filter.values}
        return any(str(c) in wanted for c in candidates)
    if isinstance(filter, RangeFilter):
        return any(
            c is not None and (filter.ge is None or c >= filter.ge) and (filter.le is None or c <= filter.le)
            for c in candidates
        )
    raise ValueError(f"unsupported filter {filter!r}")


def _user_responses(doc: dict, user: User | None) -> list[dict]:
    responses = list(doc["responses"].values())
    if user is not None:
        responses = [r for r in responses if str(r["user_id"]) == str(user.id)]
    return responses


def _matches(doc: dict, filter: Filter) -> bool:
    if isinstance(filter, AndFilter):
        return all(_matches(doc, f) for f in filter.filters)
    scope = filter.scope
    if isinstance(scope, MetadataFilterScope):
        return _matches_values(_as_list(doc["metadata"].get(scope.metadata_property)), filter)
    if isinstance(scope, SuggestionFilterScope):
        suggestion = doc["suggestions"].get(scope.question) or {}
        return _matches_values(_as_list(suggestion.get(scope.property)), filter)
    if isinstance(scope, RecordFilterScope):
        return _matches_values(_as_list(doc.get(scope.property)), filter)
    if isinstance(scope, ResponseFilterScope):
        responses = _user_responses(doc, scope.user)
        if scope.question:
            return _matches_values(
                [v for r in responses for v in _as_list(r["values"].get(scope.question))], filter
            )
        if scope.property == "status" and isinstance(filter, TermsFilter):
            values = {str(v.value if hasattr(v, "value") else v) for v in filter.values}
            pending = ResponseStatusFilter.pending.value in values and not responses
            return pending or any(r["status"] in values for r in responses)
    raise ValueError(f"unsupported filter scope {scope!r}")


def _matches_text(doc: dict, dataset: Dataset, query: TextQuery | str | None) -> bool:
    if query is None:
        return True
    if isinstance(query, str):
        query = TextQuery(q=query)
    fields = [query.field] if query.field else list(doc["fields"])
    text = " ".join(_field_text(doc["fields"].get(name)) for name in fields).lower()
    return all(token in text for token in query.q.lower().split())


def _sort_value(doc: dict, scope: Any) -> Any:
    if isinstance(scope, MetadataFilterScope):
        return doc["metadata"].get(scope.metadata_property)
    if isinstance(scope, SuggestionFilterScope):
        return (doc["suggestions"].get(scope.question) or {}).get(scope.property)
    if isinstance(scope, RecordFilterScope):
        return doc.get(scope.property)
    if isinstance(scope, ResponseFilterScope):
        key = scope.question or scope.property
        values = [
            r["values"].get(key) if scope.question else r.get(key) for r in _user_responses(doc, scope.user)
        ]
        numbers = [v for v in values if isinstance(v, (int, float))]
        if numbers:
            return sum(numbers) / len(numbers)
        return values[0] if values else None
    return None


def _sorted(docs: list[dict], sort: list[Order] | None) -> list[dict]:
    docs = sorted(docs, key=lambda d: (d["inserted_at"], str(d["id"])))
    for order in reversed(sort or []):
        present = [d for d in docs if _sort_value(d, order.scope) is not None]
        missing = [d for d in docs if _sort_value(d, order.scope) is None]  # like Elasticsearch: missing last
        present.sort(key=lambda d: _sort_value(d, order.scope), reverse=order.order == SortOrder.desc)
        docs = present + missing
    return docs


def _terms_metrics(values: Iterable[Any]) -> TermsMetrics:
    counts: dict[str, int] = {}
    total = 0
    for value in values:
        for term in _as_list(value):
            counts[str(term)] = counts.get(str(term), 0) + 1
            total += 1
    return TermsMetrics(
        total=total, values=[TermsMetrics.TermCount(term=t, count=c) for t, c in counts.items()]
    )


@SearchEngine.register(engine_name=ENGINE_NAME)
class MemorySearchEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> MemorySearchEngine:
        return cls()

    async def close(self):
        pass

    async def ping(self) -> bool:
        return True

    async def info(self) -> dict:
        return {"distribution": ENGINE_NAME, "indexes": len(_INDEXES), "records": len(_DATASET_OF_RECORD)}

    async def create_index(self, dataset: Dataset):
        _INDEXES.setdefault(dataset.id, {})

    async def delete_index(self, dataset: Dataset):
        for record_id in _INDEXES.pop(dataset.id, {}):
            _DATASET_OF_RECORD.pop(record_id, None)

    async def configure_metadata_property(self, dataset: Dataset, metadata_property: MetadataProperty):
        pass

    async def index_records(self, dataset: Dataset, records: Iterable[Record]):
        index = _INDEXES.setdefault(dataset.id, {})
        for record in records:
            index[record.id] = _record_document(record)
            _DATASET_OF_RECORD[record.id] = dataset.id

    def _document(self, record_id: UUID) -> dict | None:
        dataset_id = _DATASET_OF_RECORD.get(record_id)
        return None if dataset_id is None else _INDEXES.get(dataset_id, {}).get(record_id)

    async def partial_record_update(self, record: Record, **update):
        doc = self._document(record.id)
        if doc is not None:
            doc.update({k: (str(v.value) if hasattr(v, "value") else v) for k, v in update.items()})

    async def delete_records(self, dataset: Dataset, records: Iterable[Record]):
        index = _INDEXES.get(dataset.id, {})
        for record in records:
            index.pop(record.id, None)
            _DATASET_OF_RECORD.pop(record.id, None)

    async def update_record_response(self, response: Response):
        doc = self._document(response.record_id)
        if doc is not None:
            doc["responses"][response.id] = _response_document(response)

    async def delete_record_response(self, response: Response):
        doc = self._document(response.record_id)
        if doc is not None:
            doc["responses"].pop(response.id, None)

    async def update_record_suggestion(self, suggestion: Suggestion):
        doc = self._document(suggestion.record_id)
        if doc is not None:
            doc["suggestions"][suggestion.question.name] = _suggestion_document(suggestion)

    async def delete_record_suggestion(self, suggestion: Suggestion):
        doc = self._document(suggestion.record_id)
        if doc is not None:
            doc["suggestions"].pop(suggestion.question.name, None)

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        if dataset.is_draft:
            return {}
        metrics = _terms_metrics(doc["status"] for doc in _INDEXES.get(dataset.id, {}).values())
        return {"total": metrics.total, **{m.term: m.count for m in metrics.values}}

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        if dataset.is_draft:
            return {}
        statuses = [
            r["status"] for doc in _INDEXES.get(dataset.id, {}).values() for r in _user_responses(doc, user)
        ]
        metrics = _terms_metrics(statuses)
        return {"total": metrics.total, **{m.term: m.count for m in metrics.values}}

    async def search(
        self,
        dataset: Dataset,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        sort: list[Order] | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: str | None = None,
    ) -> SearchResponses:
        docs = [
            doc
            for doc in _INDEXES.get(dataset.id, {}).values()
            if _matches_text(doc, dataset, query) and (filter is None or _matches(doc, filter))
        ]
        docs = _sorted(docs, sort)
        items = [SearchResponseItem(record_id=doc["id"], score=1.0) for doc in docs[offset : offset + limit]]
        return SearchResponses(items=items, total=len(docs))

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        docs = _INDEXES.get(metadata_property.dataset_id, {}).values()
        values = [doc["metadata"].get(metadata_property.name) for doc in docs]
        values = [v for v in values if v is not None]
        if metadata_property.type == MetadataPropertyType.terms:
            return _terms_metrics(values)
        metrics_class = (
            IntegerMetadataMetrics
            if metadata_property.type == MetadataPropertyType.integer
            else FloatMetadataMetrics
        )
        return metrics_class(min=min(values) if values else None, max=max(values) if values else None)

    async def similarity_search(
        self,
        dataset: Dataset,
        vector_settings: VectorSettings,
        value: list[float] | None = None,
        record: Record | None = None,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        key = str(vector_settings.id)
        excluded = None
        if record is not None:
            excluded = record.id
            value = (self._document(record.id) or {}).get("vectors", {}).get(key)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")

        def cosine(other: list[float]) -> float:
            dot = sum(a * b for a, b in zip(value, other))
            norm = math.sqrt(sum(a * a for a in value)) * math.sqrt(sum(b * b for b in other))
            return dot / norm if norm else 0.0

        scored = [
            (cosine(doc["vectors"][key]), doc)
            for doc in _INDEXES.get(dataset.id, {}).values()
            if key in doc["vectors"]
            and doc["id"] != excluded
            and _matches_text(doc, dataset, query)
            and (filter is None or _matches(doc, filter))
        ]
        scored.sort(key=lambda pair: pair[0], reverse=order == SimilarityOrder.most_similar)
        if threshold is not None:
            scored = [(s, d) for s, d in scored if s >= threshold]
        items = [SearchResponseItem(record_id=doc["id"], score=score) for score, doc in scored[:max_results]]
        return SearchResponses(items=items, total=len(items))
