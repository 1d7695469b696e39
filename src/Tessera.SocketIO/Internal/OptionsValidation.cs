using Microsoft.Extensions.Options;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Internal;

internal sealed class SocketIOBuilder(Microsoft.Extensions.DependencyInjection.IServiceCollection services)
    : Microsoft.Extensions.DependencyInjection.ISocketIOBuilder
{
    public Microsoft.Extensions.DependencyInjection.IServiceCollection Services { get; } = services;
}

/// <summary>Checks <see cref="SocketIOOptions"/> (and the Engine.IO options inside) at start, with a clear message.</summary>
internal sealed class SocketIOOptionsValidation : IValidateOptions<SocketIOOptions>, IPostConfigureOptions<SocketIOOptions>
{
    public ValidateOptionsResult Validate(string? name, SocketIOOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;

    /// <summary>Binary attachments work with whatever serializer options the application set.</summary>
    public void PostConfigure(string? name, SocketIOOptions options) => options.EnsureAttachmentConverters();
}
