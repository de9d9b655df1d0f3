// InMemoryDoubleSpendStore.swift: spent nonces in memory only (tests, and
// nodes that accept replays after a restart).

/// A `DoubleSpendStoring` that forgets everything when it goes away.
public struct InMemoryDoubleSpendStore: DoubleSpendStoring {
    /// Expiry per nonce.
    public private(set) var entries: [[UInt8]: Int64] = [:]

    /// Creates an empty store.
    public init() {}

    /// Whether `nonce` is recorded and unexpired.
    public func seen(_ nonce: [UInt8], now: Int64) -> Bool {
        guard let expires = entries[nonce] else { return false }
        return expires > now
    }

    /// Records `nonce` (keeping the later expiry of two).
    public mutating func record(_ nonce: [UInt8], expires: Int64) throws(CoreError) {
        entries[nonce] = max(entries[nonce] ?? expires, expires)
    }

    /// Forgets entries expired at `now`.
    public mutating func purge(now: Int64) {
        entries = entries.filter { $0.value > now }
    }
}
