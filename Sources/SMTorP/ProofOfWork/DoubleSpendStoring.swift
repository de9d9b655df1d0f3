// DoubleSpendStoring.swift: the memory of spent stamp nonces, behind a
// protocol the verifier is generic over (a durable file store in a node, an
// in-memory one in tests).

/// Remembers spent nonces until they expire.
public protocol DoubleSpendStoring {
    /// Whether `nonce` was recorded and has not expired at `now`.
    func seen(_ nonce: [UInt8], now: Int64) -> Bool
    /// Records `nonce` as spent until `expires` (Unix seconds). Durable
    /// before it returns: a nonce recorded before a crash is still refused
    /// after it.
    mutating func record(_ nonce: [UInt8], expires: Int64) throws(CoreError)
}
