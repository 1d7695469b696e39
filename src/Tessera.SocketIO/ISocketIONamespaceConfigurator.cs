namespace Tessera.SocketIO;

/// <summary>
/// Configures every namespace when it is created, before application code can add its own middleware: the
/// hook for cross-cutting layers such as authentication. Register implementations in DI; the server applies
/// them in registration order. Dynamic namespaces are configured per child, under the child's real name.
/// </summary>
public interface ISocketIONamespaceConfigurator
{
    /// <summary>Configures <paramref name="ns"/> just after it is created: add its middleware, event middleware, handlers or features.</summary>
    void Configure(SocketIONamespace ns);
}
