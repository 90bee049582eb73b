import Hummingbird
import NIOCore

/// The service's request context: Hummingbird's basic one plus the peer's address, which
/// `BasicRequestContext` drops and the submit rate limit keys on.
struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's address; nil when the channel has none (the in-process test router).
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
