namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// What <c>services.AddSocketIO()</c> returns: the place where authentication, adapters and accounts plug in
/// (<c>.AddJwtAuthentication(…)</c>, <c>.AddRedisAdapter(…)</c>), as <c>AddSignalR()</c>'s builder.
/// </summary>
public interface ISocketIOBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}
