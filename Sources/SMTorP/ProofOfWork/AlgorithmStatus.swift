// AlgorithmStatus.swift: where an algorithm stands on the upgrade path
// (docs/spec.md §5): preferred, accepted, or deprecated since a date.

/// The standing of an algorithm in an `AlgorithmRegistry`.
public enum AlgorithmStatus: Equatable, Sendable {
    /// The algorithm clients should use; announced first.
    case preferred
    /// Accepted at its base effort.
    case accepted
    /// Accepted at an effort that doubles every doubling period since
    /// `since` (Unix seconds), so that clients move on.
    case deprecated(since: Int64)
}
