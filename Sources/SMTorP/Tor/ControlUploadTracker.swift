// ControlUploadTracker.swift: follows the HS_DESC events of one onion
// service to tell when its descriptors are published: every UPLOAD launched
// has been answered (UPLOADED or FAILED) and at least one HSDir accepted.
// Waiting for every launched upload, not just the first UPLOADED, means a
// peer that fetches the descriptor right after finds it at whichever HSDir
// it asks.
//
// Untrusted input: HS_DESC events from the control port (already parsed);
// events for other services, or answers from an HSDir with no launched
// upload, never make the count of launched uploads negative.
// Spec: Tor control-spec.txt §4.1.25; rend-spec-v3 §2.2 (a descriptor is
// uploaded to several HSDirs, for the current and the next time period).

/// Tracks descriptor uploads of one onion service.
public struct ControlUploadTracker: Equatable, Sendable {
    /// The service ID watched (56 base32 characters).
    public let serviceID: String
    /// Uploads an HSDir accepted (UPLOADED).
    public private(set) var uploaded = 0
    /// Uploads that failed (FAILED after an UPLOAD to that HSDir).
    public private(set) var failed = 0
    /// Launched uploads not yet answered, per HSDir fingerprint (or the
    /// HsDir field as written when it has no fingerprint).
    private var pending: [String: Int] = [:]

    /// Starts watching `serviceID` (with or without ".onion").
    public init(serviceID: String) {
        let bytes = Array(serviceID.utf8)
        let suffix = Array(".onion".utf8)
        self.serviceID = bytes.count > suffix.count && Array(bytes.suffix(suffix.count)) == suffix
            ? String(decoding: bytes.dropLast(suffix.count), as: UTF8.self) : serviceID
    }

    /// Uploads launched and not yet answered.
    public var pendingCount: Int { pending.values.reduce(0, +) }

    /// Whether every launched upload has been answered and at least one
    /// HSDir accepted the descriptor.
    public var isComplete: Bool { uploaded > 0 && pending.isEmpty }

    /// Takes one HS_DESC event into account (events of other services and
    /// fetch-side actions are ignored).
    public mutating func observe(_ event: ControlHSDescriptorEvent) {
        guard event.address == serviceID else { return }
        let directory = event.hsDirectoryFingerprint ?? event.hsDirectory ?? "UNKNOWN"
        switch event.action {
        case .upload:
            pending[directory, default: 0] += 1
        case .uploaded:
            settle(directory)
            uploaded += 1
        case .failed:
            // A FAILED for a service of ours with no upload pending at that
            // HSDir is a fetch failure (a client looking us up), not ours.
            if settle(directory) { failed += 1 }
        case .requested, .received, .ignore, .created, .other:
            return
        }
    }

    /// Marks one launched upload to `directory` as answered; false when
    /// none was pending there.
    @discardableResult
    private mutating func settle(_ directory: String) -> Bool {
        guard let count = pending[directory] else { return false }
        pending[directory] = count > 1 ? count - 1 : nil
        return true
    }
}
