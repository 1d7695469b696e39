using System.Text;
using Tessera.SocketIO;

var builder = WebApplication.CreateBuilder(args);

// Tokens are HS256 JWTs signed with this secret (Jwt__Secret in the environment, or --Jwt:Secret=… ).
var secret = builder.Configuration["Jwt:Secret"];
if (string.IsNullOrEmpty(secret) || Encoding.UTF8.GetByteCount(secret) < 32)
{
    Console.Error.WriteLine("Set Jwt:Secret (e.g. the Jwt__Secret environment variable) to an HS256 secret of at least 32 bytes.");
    return 1;
}

builder.Services.AddSocketIO().AddJwtAuthentication(o =>
{
    o.Issuer = builder.Configuration["Jwt:Issuer"] ?? "https://auth.example.com";   // required "iss"
    o.Audience = builder.Configuration["Jwt:Audience"] ?? "my-app";                   // required "aud"
    o.AddHmacSecret(secret);
});

var app = builder.Build();

var io = app.Services.GetRequiredService<SocketIOServer>();
io.OnConnection(socket =>
{
    // socket.User holds the token's claims; a handshake without a valid token never gets here.
    socket.On("whoami", e => e.Ack(new { sub = socket.User.FindFirst("sub")?.Value }));
    socket.On("echo", e => e.Ack(e.Args));   // answers with the arguments it was sent
});

app.MapSocketIO();   // at /socket.io/, on the addresses --urls or ASPNETCORE_URLS give
app.Run();
return 0;
