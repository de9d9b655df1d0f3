// PowExtension.swift: the `POW` ESMTP service extension: the EHLO keyword
// and the RCPT parameter (docs/spec.md §5; RFC 5321 §4.1.1.1 ehlo-line,
// §4.1.2 esmtp-param).
//
// Grammar (for docs/spec.md):
//
//   ehlo-line      =/ "POW" 1*( SP pow-offer )      ; RFC 5321 ehlo-param
//   pow-offer      = algorithm-id "=" effort
//   algorithm-id   = 1*( %x61-7A / DIGIT / "-" )   ; "eqh96-5", "a2id-1m", "hc1"
//   effort         = %x31-39 *9DIGIT               ; 1 .. 4294967295
//
//   rcpt-parameter =/ "POW=" stamp                  ; Stamp.swift
//
// Offers come in order of preference. A client ignores offers of algorithms
// it does not know, picks one it can solve, and sends one `POW=` parameter
// per RCPT (stamps are bound to their recipient).
//
// Untrusted input: EHLO replies (client side) and RCPT parameters (server
// side) from the network.

/// The `POW` keyword and parameter.
public enum PowExtension {
    /// The EHLO keyword and the RCPT parameter keyword.
    public static let keyword = "POW"

    /// The EHLO keyword line: `POW eqh96-5=8 a2id-1m=2 hc1=32768`.
    public static func announcement(_ requirements: [PowRequirement]) -> String {
        var line = keyword
        for requirement in requirements {
            line += " " + requirement.algorithm.identifier + "=" + String(requirement.effort)
        }
        return line
    }

    /// The offers of an EHLO line (keyword included, any case), skipping
    /// algorithms this node does not know; nil when the line is not a `POW`
    /// line or an offer is malformed.
    public static func parseAnnouncement(_ line: String) -> [PowRequirement]? {
        let words = Array(line.utf8).split(separator: 0x20)
        guard let first = words.first,
              first.map({ $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }) == Array(keyword.utf8) else { return nil }
        var requirements: [PowRequirement] = []
        for word in words.dropFirst() {
            let parts = word.split(separator: UInt8(ascii: "="), omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty,
                  parts[0].allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }),
                  let effort = Stamp.parseEffort(String(decoding: parts[1], as: UTF8.self)) else { return nil }
            if let algorithm = PowAlgorithm(identifier: String(decoding: parts[0], as: UTF8.self)) {
                requirements.append(PowRequirement(algorithm: algorithm, effort: effort))
            }
        }
        return requirements
    }

    /// The marker before the requirements in a 450 reply's text.
    public static let requirementsMarker = "POW required: "

    /// The requirements a 450 4.7.0 reply's text repeats (`…; POW required:
    /// eqh96-5 effort 8, a2id-1m effort 2`), skipping algorithms this node
    /// does not know; nil when the text carries none or is malformed.
    /// Untrusted: reply text from the network.
    public static func requirements(inReplyText text: String) -> [PowRequirement]? {
        let bytes = Array(text.utf8), marker = Array(requirementsMarker.utf8)
        guard bytes.count >= marker.count,
              let start = (0...(bytes.count - marker.count)).first(where: {
                  bytes[$0..<($0 + marker.count)].elementsEqual(marker)
              })
        else { return nil }
        var requirements: [PowRequirement] = []
        for item in bytes[(start + marker.count)...].split(separator: UInt8(ascii: ",")) {
            let words = item.split(separator: 0x20)
            guard words.count == 3, Array(words[1]) == Array("effort".utf8),
                  let effort = Stamp.parseEffort(String(decoding: words[2], as: UTF8.self)) else { return nil }
            if let algorithm = PowAlgorithm(identifier: String(decoding: words[0], as: UTF8.self)) {
                requirements.append(PowRequirement(algorithm: algorithm, effort: effort))
            }
        }
        return requirements.isEmpty ? nil : requirements
    }

    /// The stamp text of the RCPT parameters: nil without a `POW`
    /// parameter; `StampError.syntax` for one without a value or for two.
    public static func stampText(in parameters: [ESMTPParameter]) throws(StampError) -> String? {
        var found: String?
        for parameter in parameters where parameter.keyword == keyword {
            guard found == nil, let value = parameter.value else { throw .syntax }
            found = value
        }
        return found
    }

    /// The RCPT parameter for `stamp`: `POW=<stamp>`.
    public static func parameter(_ stamp: Stamp) -> String {
        keyword + "=" + stamp.render()
    }
}
