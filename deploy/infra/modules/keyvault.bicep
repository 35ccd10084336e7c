// Key Vault: RBAC only (no access policies), soft delete with purge protection. It holds
// the PostgreSQL passwords and the two database URLs built from them (the app's role and
// the owner that runs migrations); the web app reads them through Key Vault references
// with the managed identity (Key Vault Secrets User).
param name string
param location string
param tags object

@description('Principal that reads secrets at run time (the managed identity).')
param readerPrincipalId string

@description('Principal that runs the deployment and may manage secrets (empty: none).')
param adminPrincipalId string = ''
param adminPrincipalType string = 'User'
param workspaceId string

@secure()
param postgresAdminPassword string

@secure()
@description('postgresql+asyncpg://... for SQLAlchemy with asyncpg, TLS required: the app\'s role.')
param databaseUrl string

@secure()
@description('The same database as its owner (the administrator): migrations and grants only.')
param migrationDatabaseUrl string

var secretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
var secretsOfficer = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the vault stays reachable from the operator's workstation (azd reads the generated PostgreSQL password back from it); every data-plane call needs Entra auth and an RBAC role. deploy/README.md shows how to add a firewall afterwards.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource passwordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: an expiry date would stop the bot on that day; the password is rotated by redeploying (see deploy/README.md).
  parent: vault
  name: 'postgresAdminPassword'
  properties: {
    value: postgresAdminPassword
    contentType: 'text/plain'
  }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: same reason as the password secret.
  parent: vault
  name: 'database-url'
  properties: {
    value: databaseUrl
    contentType: 'text/uri'
  }
}

resource migrationDatabaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: same reason as the password secret.
  parent: vault
  name: 'database-migration-url'
  properties: {
    value: migrationDatabaseUrl
    contentType: 'text/uri'
  }
}

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUser)
  scope: vault
  properties: {
    roleDefinitionId: secretsUser
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource adminRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(adminPrincipalId)) {
  name: guid(vault.id, adminPrincipalId, secretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: secretsOfficer
    principalId: adminPrincipalId
    principalType: adminPrincipalType
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
output databaseUrlSecretName string = databaseUrlSecret.name
output migrationDatabaseUrlSecretName string = migrationDatabaseUrlSecret.name
