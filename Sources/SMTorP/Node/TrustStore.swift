// TrustStore.swift: trust on first use for addresses without a fingerprint
// label, and the address book that upgrades short addresses to full ones.
//
//   <data>/pins      "<onion-name> <full fingerprint label> <first-seen unix>"
//   <data>/contacts  "<full address> <last-used unix>"
//
// The first successful delivery to an onion records the server's TLS
// fingerprint; a later connection to that onion whose certificate differs is
// refused before any SMTP is spoken (a possible man in the middle: the mail
// is deferred, never delivered, and the user is told). An address with a
// fingerprint label is checked against the label instead (docs/spec.md
// §3.5), which also refreshes the pin. Each delivered recipient is remembered
// in its full form, so short addresses typed by hand become full ones.
//
// Untrusted input: the files (the node's own; malformed lines are skipped
// and reported, never fatal) and the fingerprints servers present.

/// Pins and contacts of one node.
public struct TrustStore: Sendable {
    /// One pinned onion.
    public struct Pin: Equatable, Sendable {
        public var onion: String
        public var fingerprintLabel: String
        public var firstSeen: Int64
    }

    /// One known correspondent, in full form.
    public struct Contact: Equatable, Sendable {
        public var address: String
        public var lastUsed: Int64
    }

    public private(set) var pins: [Pin] = []
    public private(set) var contacts: [Contact] = []
    /// Lines that did not parse (reported by the caller).
    public private(set) var skippedLines = 0
    let directory: String

    /// Loads `<directory>/pins` and `<directory>/contacts` (missing = empty).
    public init(directory: String) {
        self.directory = directory
        if let bytes = try? DurableFile.read(path: directory + "/pins", maxLength: 1 << 24) {
            for fields in Self.lines(bytes) {
                guard fields.count == 3, fields[1].utf8.count == SMTorPAddress.fullFingerprintLength,
                      let seen = Int64(fields[2]) else { skippedLines += 1; continue }
                pins.append(Pin(onion: fields[0], fingerprintLabel: fields[1], firstSeen: seen))
            }
        }
        if let bytes = try? DurableFile.read(path: directory + "/contacts", maxLength: 1 << 24) {
            for fields in Self.lines(bytes) {
                guard fields.count == 2, let used = Int64(fields[1]) else { skippedLines += 1; continue }
                contacts.append(Contact(address: fields[0], lastUsed: used))
            }
        }
    }

    static func lines(_ bytes: [UInt8]) -> [[String]] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let t = trim(Array(line))
            if t.isEmpty || t.first == UInt8(ascii: "#") { return nil }
            return t.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The pinned fingerprint label of `onion` (a host name), if any.
    public func pinnedLabel(onion: String) -> String? {
        pins.first { $0.onion == onion }?.fingerprintLabel
    }

    /// The verdict on a server certificate for `destination`.
    public enum Verdict: Equatable, Sendable {
        /// The address's label matches.
        case matchesLabel
        /// No label, and the pin matches.
        case matchesPin
        /// No label and no pin: trusted on first use.
        case firstUse
        /// The address's label does not match.
        case labelMismatch
        /// No label, and the certificate differs from the pinned one.
        case pinMismatch(pinned: String)
    }

    /// Judges a server fingerprint presented for `destination`.
    public func verdict(for destination: SMTorPAddress, fingerprint: [UInt8]) -> Verdict {
        if destination.fingerprintLabel != nil {
            return destination.matches(fingerprint: fingerprint) ? .matchesLabel : .labelMismatch
        }
        guard let pinned = pinnedLabel(onion: destination.onion.hostname) else { return .firstUse }
        let presented = Base32.encode(fingerprint)
        return pinned == presented ? .matchesPin : .pinMismatch(pinned: pinned)
    }

    /// Records a successful delivery: the pin (first use, or refreshed by a
    /// matching label) and each recipient's full address.
    public mutating func recordDelivery(to destination: SMTorPAddress, fingerprint: [UInt8],
                                        recipients: [String], now: Int64) {
        let label = Base32.encode(fingerprint)
        let onion = destination.onion.hostname
        if let i = pins.firstIndex(where: { $0.onion == onion }) {
            if destination.fingerprintLabel != nil { pins[i].fingerprintLabel = label }
        } else {
            pins.append(Pin(onion: onion, fingerprintLabel: label, firstSeen: now))
        }
        for local in recipients {
            let full = SMTorPAddress(localPart: local, onion: destination.onion, fingerprintLabel: label).text
            if let i = contacts.firstIndex(where: { $0.address == full }) {
                contacts[i].lastUsed = now
            } else {
                contacts.append(Contact(address: full, lastUsed: now))
            }
        }
    }

    /// The full form of an address typed short, from the address book.
    public func fullForm(of address: SMTorPAddress) -> SMTorPAddress? {
        for c in contacts {
            if case .smtorp(let known)? = try? Address.parse(c.address),
               known.onion == address.onion, known.localPart == address.localPart,
               let label = known.fingerprintLabel,
               address.fingerprintLabel.map({ label.hasPrefix($0) }) ?? true {
                return known
            }
        }
        return nil
    }

    /// Writes both files durably.
    public func save() throws(CoreError) {
        var p = "# smtorp pins: onion, full TLS fingerprint label, first seen (unix time)\n"
        for pin in pins { p += pin.onion + " " + pin.fingerprintLabel + " " + String(pin.firstSeen) + "\n" }
        var c = "# smtorp contacts: full SMTorP address, last used (unix time)\n"
        for contact in contacts { c += contact.address + " " + String(contact.lastUsed) + "\n" }
        try DurableFile.replace(path: directory + "/pins", parts: [Array(p.utf8)])
        try DurableFile.replace(path: directory + "/contacts", parts: [Array(c.utf8)])
    }
}
