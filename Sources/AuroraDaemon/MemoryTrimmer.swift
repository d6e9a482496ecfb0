#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle

/// Hands memory freed by the process back to the system every few seconds.
///
/// glibc's allocator keeps freed pages in its per-thread arenas: after a burst of large frames
/// (uploads, or hostile peers) a daemon's RSS stayed at its peak although nothing held the memory
/// any more (the gateway: 32 MiB at start, 279 MiB after an attack run, never back). glibc's
/// `malloc_trim` returns those free pages; it costs well under a millisecond when there is nothing
/// to return. It is looked up at run time: Swift's Glibc module does not import <malloc.h>, and a
/// C library without it (musl) simply skips the trim.
struct MemoryTrimmer: Service {
    let interval: Duration

    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    func run() async throws {
        guard let trim = Self.trim else { return }
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: self.interval)
                _ = trim(0)
            }
        }
    }
}
