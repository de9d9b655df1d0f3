// ReceivedHeader.swift: the trace header a receiving SMTorP node prepends
// (RFC 5321 §4.4, RFC 5322 §3.6.7).
//
// Privacy: SMTorP protects metadata, so this header names no IP address, no
// host name of the sending machine (not even its EHLO argument), no local
// time zone and no software version: only the receiving onion, the protocol
// (RFC 3848 / RFC 6531 "with" keywords) and a UTC date.

/// Builds the `Received:` header for a message accepted by this node.
public enum ReceivedHeader {
    /// `Received: by <onion> with <protocol> id <id>;\r\n\t<date>\r\n`
    public static func render(by hostname: String, protocolName: String,
                              queueID: String, unixSeconds: Int64) -> [UInt8] {
        let text = "Received: by " + hostname + " with " + protocolName + " id " + queueID
            + ";\r\n\t" + UTCDate(unixSeconds: unixSeconds).rfc5322 + "\r\n"
        return Array(text.utf8)
    }
}
