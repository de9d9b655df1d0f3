// ClientExtensions.swift — the service extensions an SMTP server announces
// in its EHLO reply, as the client session uses them.
//
// Untrusted input: the text lines of the server's EHLO reply (already split
// and made printable by ClientReplyParser). Unknown keywords are ignored; a
// SIZE value that is not a decimal number is taken as "no limit announced".
// RFCs: RFC 5321 §4.1.1.1 (EHLO reply: ehlo-keyword *(SP ehlo-param),
// keywords case-insensitive), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING),
// RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 2034
// (ENHANCEDSTATUSCODES).

/// The service extensions a server announced, of those the client uses.
public struct ClientExtensions: Equatable, Sendable {
    /// PIPELINING (RFC 2920): commands may be sent in groups.
    public var pipelining = false
    /// CHUNKING (RFC 3030): BDAT may be used instead of DATA.
    public var chunking = false
    /// SIZE (RFC 1870): MAIL takes `SIZE=`.
    public var size = false
    /// The largest message the server takes, from `SIZE n`; nil when it
    /// gave no number or 0 ("no fixed maximum", RFC 1870 §4).
    public var maxMessageSize: UInt64?
    /// 8BITMIME (RFC 6152): MAIL takes `BODY=8BITMIME`.
    public var eightBitMIME = false
    /// SMTPUTF8 (RFC 6531): UTF-8 addresses and headers.
    public var smtpUTF8 = false
    /// ENHANCEDSTATUSCODES (RFC 2034): replies carry `class.subject.detail`.
    public var enhancedStatusCodes = false
    /// POW (docs/spec.md §5.5): RCPT takes `POW=<stamp>`; the offers this
    /// node knows, in the server's order of preference (nil: not offered).
    public var proofOfWork: [PowRequirement]?

    /// No extension: what a server greeted with HELO offers.
    public init() {}

    /// The extensions listed in an EHLO reply: every line after the first
    /// (which names the server) is `keyword [params]`.
    public init(extendedHelloReply reply: Reply) {
        for line in reply.lines.dropFirst() {
            let bytes = Array(line.utf8)
            let keywordEnd = bytes.firstIndex(of: 0x20) ?? bytes.count
            let keyword = String(decoding: bytes[..<keywordEnd].map { $0.asciiUppercased }, as: UTF8.self)
            let parameters = bytes[keywordEnd...].drop { $0 == 0x20 }
            switch keyword {
            case "PIPELINING":
                pipelining = true
            case "CHUNKING":
                chunking = true
            case "SIZE":
                size = true
                // size-param = [1*DIGIT] (RFC 1870 §4); 0 means no limit.
                let digits = parameters.prefix { $0 != 0x20 }
                if let value = Command.decimalValue(digits), value > 0 {
                    maxMessageSize = value
                }
            case "8BITMIME":
                eightBitMIME = true
            case "SMTPUTF8":
                smtpUTF8 = true
            case "ENHANCEDSTATUSCODES":
                enhancedStatusCodes = true
            case "POW":
                // A malformed offer list still means POW is offered.
                proofOfWork = PowExtension.parseAnnouncement(line) ?? []
            default:
                continue
            }
        }
    }
}

extension UInt8 {
    /// The octet with an ASCII small letter capitalised.
    fileprivate var asciiUppercased: UInt8 {
        self >= 0x61 && self <= 0x7A ? self - 0x20 : self
    }
}
