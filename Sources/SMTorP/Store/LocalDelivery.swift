// LocalDelivery.swift: the store behind the onion listener. It prepends the
// Received header and writes one durable Maildir copy per distinct local
// mailbox before reporting success, so the session's "250" means "on disk".
//
// If a later copy fails after an earlier one was written, the result is a
// temporary failure: the client retries and the earlier mailbox may get the
// message twice. A duplicate is the price of never losing a message.
import SMTorPCore

/// Stores accepted messages into the node's Maildirs.
public struct LocalDelivery: Sendable {
    public let maildir: Maildir
    public let hostname: String
    public let logger: Logger

    public init(maildir: Maildir, hostname: String, logger: Logger) {
        self.maildir = maildir
        self.hostname = hostname
        self.logger = logger
    }

    /// Stores `message` for every recipient in `envelope`.
    public func store(_ envelope: Envelope, message: [UInt8]) -> StoreResult {
        var random = [UInt8](repeating: 0, count: 10)
        guard smtorp_random_bytes(&random, random.count) == SMTORP_OK else {
            logger.error("no random bytes for a queue id")
            return .temporaryFailure("Local delivery failed, try again later")
        }
        let queueID = Base32.encode(random)
        let now = smtorp_clock_unix_seconds()
        let header = ReceivedHeader.render(by: hostname, protocolName: envelope.protocolName,
                                           queueID: queueID, unixSeconds: now)
        var done: [String] = []
        for recipient in envelope.recipients {
            let mailbox = lowercasedASCII(recipient.localPart)
            if done.contains(mailbox) { continue }
            do throws(CoreError) {
                let path = try maildir.deliver(mailbox: mailbox,
                                               uniqueName: String(now) + "." + queueID + ".smtorp",
                                               parts: [header, message])
                logger.info("stored " + queueID + " for " + mailbox + " ("
                            + String(message.count) + " octets) in " + path)
            } catch {
                logger.error("delivery of " + queueID + " to " + mailbox + " failed: " + error.message)
                return .temporaryFailure("Local delivery failed, try again later")
            }
            done.append(mailbox)
        }
        return .stored(queueID: queueID)
    }
}
