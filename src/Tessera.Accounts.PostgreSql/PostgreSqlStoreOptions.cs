namespace Tessera.Accounts.PostgreSql;

/// <summary>The PostgreSQL account store (configuration <c>Tessera:Accounts:ConnectionString</c> in the server).</summary>
public sealed class PostgreSqlStoreOptions
{
    /// <summary>An Npgsql connection string, e.g. <c>Host=db;Username=tessera;Password=…;Database=tessera</c>.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>What is wrong with these options, or null.</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            return "PostgreSqlStoreOptions: ConnectionString (Tessera:Accounts:ConnectionString) is empty; Accounts:Store=postgres needs an Npgsql connection string.";
        }
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
        }
        catch (ArgumentException ex)
        {
            // The message names the bad keyword, never the password.
            return "PostgreSqlStoreOptions: ConnectionString is not a valid Npgsql connection string: " + ex.Message;
        }
        return null;
    }
}
