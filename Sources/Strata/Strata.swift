@_exported import StrataStorage

/// Strata's event-sourcing layer. So far: the `EventStore` protocol with the native (`NativeEventStore`) and
/// in-memory (`InMemoryEventStore`) backends, and the partition-key rules. Typed events, aggregates, commands
/// and projections build on them.
public enum StrataVersion {
    public static let string = "0.1.0-dev"
}
