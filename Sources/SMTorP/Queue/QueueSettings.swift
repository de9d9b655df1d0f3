// QueueSettings.swift: the named limits and times of the outbound queue, in
// Postfix's spirit (postconf(5) names given beside each).
//
// Untrusted input: none (values come from the node's configuration).

/// Retry, lifetime, warning and concurrency settings of the queue. Times
/// are in seconds.
public struct QueueSettings: Equatable, Sendable {
    /// The wait before the first retry; doubled after each further failed
    /// attempt. Postfix: minimal_backoff_time (300 s).
    public var minimalBackoff: Int64
    /// The longest wait between two attempts. Postfix: maximal_backoff_time
    /// (4000 s).
    public var maximalBackoff: Int64
    /// Each wait is stretched or shrunk by up to this fraction at random
    /// (0.2: ±20 %), so that messages deferred together do not all come back
    /// at the same moment.
    public var backoffJitter: Double
    /// How long a message may stay queued; a temporary failure after that
    /// is final and bounces. Postfix: maximal_queue_lifetime (5 days).
    public var maximalLifetime: Int64
    /// After how long a still-undelivered message earns the sender a delay
    /// warning (once per recipient); 0 sends none. Postfix:
    /// delay_warning_time (off there by default; 4 hours here, where an
    /// offline onion service is a common cause of delay).
    public var delayWarningTime: Int64
    /// The most destinations (onion services) connected to at once.
    /// Postfix: default_destination_concurrency_limit is per destination;
    /// this is the total, as qmgr_message_active_limit bounds work.
    public var maximumConcurrentDestinations: Int
    /// The most messages sent over one connection; the rest wait for the
    /// next. Postfix: smtp_connection_reuse_count_limit in spirit.
    public var maximumMessagesPerConnection: Int

    /// Creates settings, taking the default for every value not given.
    public init(minimalBackoff: Int64 = 300, maximalBackoff: Int64 = 4000, backoffJitter: Double = 0.2,
                maximalLifetime: Int64 = 5 * 86_400, delayWarningTime: Int64 = 4 * 3600,
                maximumConcurrentDestinations: Int = 10, maximumMessagesPerConnection: Int = 50) {
        self.minimalBackoff = minimalBackoff
        self.maximalBackoff = maximalBackoff
        self.backoffJitter = backoffJitter
        self.maximalLifetime = maximalLifetime
        self.delayWarningTime = delayWarningTime
        self.maximumConcurrentDestinations = maximumConcurrentDestinations
        self.maximumMessagesPerConnection = maximumMessagesPerConnection
    }
}
