using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tessera.EngineIO.Internal.Transports;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// The direct WebSocket path on a TLS endpoint: it must never answer a plaintext handshake there, whichever
/// order <c>UseHttps</c> and <c>UseEngineIODirectWebSockets</c> were called in.
/// </summary>
public class DirectWebSocketTlsTests
{
    public enum Order
    {
        /// <summary><c>listen.UseHttps(); listen.UseEngineIODirectWebSockets();</c>: the direct path sees decrypted bytes.</summary>
        AfterHttps,
        /// <summary><c>listen.UseEngineIODirectWebSockets(); listen.UseHttps();</c>: the direct path would see the raw socket.</summary>
        BeforeHttps,
        /// <summary><c>kestrel.UseEngineIODirectWebSockets()</c> (endpoint defaults run before the endpoint's own UseHttps).</summary>
        EndpointDefaults,
    }

    private const string Handshake = "/engine.io/?EIO=4&transport=websocket";

    [Theory]
    [InlineData(Order.AfterHttps)]
    [InlineData(Order.BeforeHttps)]
    [InlineData(Order.EndpointDefaults)]
    public async Task Plaintext_handshake_on_a_tls_port_is_never_answered_with_101(Order order)
    {
        await using var app = await TlsApp.StartAsync(order);
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, app.Port);
        var stream = tcp.GetStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        await stream.WriteAsync(UpgradeRequest(app.Port), timeout.Token);

        // Whatever the TLS layer answers (an alert, or nothing) before it drops the connection, it is not an HTTP
        // response, and no session was opened.
        using var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, timeout.Token);
        }
        catch (IOException)
        {
            // Reset by the server: fine, nothing was served.
        }
        catch (OperationCanceledException)
        {
            // Asserted below.
        }
        var text = Encoding.ASCII.GetString(received.ToArray());
        Assert.DoesNotContain("HTTP/1.1", text);
        Assert.False(timeout.IsCancellationRequested, "the server kept the plaintext connection open");
        Assert.False(app.Handler.Opened.Reader.TryRead(out _), "a session was opened for a plaintext handshake");
        // In front of the TLS layer the direct path says once that it is off there.
        var warnings = app.Logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains("before UseHttps", StringComparison.Ordinal));
        Assert.Equal(order == Order.AfterHttps ? 0 : 1, warnings);
    }

    [Theory]
    [InlineData(Order.AfterHttps, true)]
    [InlineData(Order.BeforeHttps, false)]
    [InlineData(Order.EndpointDefaults, false)]
    public async Task Tls_handshake_is_served_and_secure(Order order, bool direct)
    {
        await using var app = await TlsApp.StartAsync(order);
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, app.Port);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, timeout.Token);

        await tls.WriteAsync(UpgradeRequest(app.Port), timeout.Token);
        await tls.FlushAsync(timeout.Token);

        var head = await ReadHeadAsync(tls, timeout.Token);
        Assert.StartsWith("HTTP/1.1 101 ", head);
        // The direct path writes no Server header; Kestrel's HTTP stack does. In front of UseHttps the direct path
        // steps aside, so those handshakes take the ordinary path.
        Assert.Equal(!direct, head.Contains("\r\nServer: Kestrel\r\n", StringComparison.Ordinal));
        var socket = await app.Handler.Opened.Reader.ReadAsync(timeout.Token);
        Assert.True(socket.Handshake.IsSecure);
        // Under TLS the direct path writes through the TLS layer's pipe, never to the socket beneath it.
        if (socket.CurrentTransport is DirectWebSocketTransport transport)
        {
            Assert.False(transport.WritesToSocket);
        }
        Assert.Equal(direct, socket.CurrentTransport is DirectWebSocketTransport);
    }

    private static byte[] UpgradeRequest(int port) => Encoding.ASCII.GetBytes(
        $"GET {Handshake} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\nSec-WebSocket-Version: 13\r\n\r\n");

    private static async Task<string> ReadHeadAsync(Stream stream, CancellationToken token)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head is not [.., (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n'])
        {
            await stream.ReadExactlyAsync(one, token);
            head.Add(one[0]);
            Assert.True(head.Count < 16 * 1024, "no end to the response head");
        }
        return Encoding.ASCII.GetString([.. head]);
    }

    /// <summary>A self-signed certificate for 127.0.0.1 / localhost, made for the test.</summary>
    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), password: null);
    }

    private sealed class TlsApp : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly X509Certificate2 _certificate;

        private TlsApp(WebApplication app, X509Certificate2 certificate, RecordingHandler handler, int port, LogCapture logs)
        {
            Logs = logs;
            _app = app;
            _certificate = certificate;
            Handler = handler;
            Port = port;
        }

        public RecordingHandler Handler { get; }

        public LogCapture Logs { get; }

        public int Port { get; }

        public static async Task<TlsApp> StartAsync(Order order)
        {
            var certificate = CreateCertificate();
            var handler = new RecordingHandler();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Services.AddEngineIO();
            var logs = new LogCapture();
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.WebHost.UseKestrel(kestrel =>
            {
                if (order == Order.EndpointDefaults)
                {
                    kestrel.UseEngineIODirectWebSockets();
                }
                kestrel.Listen(IPAddress.Loopback, 0, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    if (order == Order.BeforeHttps)
                    {
                        listen.UseEngineIODirectWebSockets();
                    }
                    listen.UseHttps(certificate);
                    if (order == Order.AfterHttps)
                    {
                        listen.UseEngineIODirectWebSockets();
                    }
                });
            });
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
            var app = builder.Build();
            app.MapEngineIO("/engine.io", handler);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new TlsApp(app, certificate, handler, new Uri(address).Port, logs);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _certificate.Dispose();
        }
    }
}
