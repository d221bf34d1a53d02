"""Records and what hangs off them: suggestions, responses, queries, logging and export."""

from quire.client.records.collection import DatasetRecords
from quire.client.records.iterator import RecordsIterator, SearchPage
from quire.client.records.query import Condition, Filter, Query, Similar
from quire.client.records.record import Record
from quire.client.records.responses import RecordResponses, Response, ResponseStatus, UserResponse
from quire.client.records.suggestions import RecordSuggestions, Suggestion

__all__ = [
    "Condition",
    "DatasetRecords",
    "Filter",
    "Query",
    "Record",
    "RecordResponses",
    "RecordSuggestions",
    "RecordsIterator",
    "Response",
    "ResponseStatus",
    "SearchPage",
    "Similar",
    "Suggestion",
    "UserResponse",
]
