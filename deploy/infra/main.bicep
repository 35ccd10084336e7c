// Mamoru on Azure: everything the bot needs in one resource group.
//
//   azd up                                   (reads azure.yaml at the repository root)
//   az deployment sub create -l japaneast -f deploy/infra/main.bicep -p deploy/infra/main.parameters.json ...
//
// No secret is written in any file: the PostgreSQL password arrives as a secure parameter
// (azd generates it, or reads it back from the vault), is stored in Key Vault together with
// the DATABASE_URL built from it, and the web app reads both through Key Vault references.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Name of the environment (azd: AZURE_ENV_NAME); used in resource names and tags.')
param environmentName string

@minLength(1)
@description('Azure region for every resource except the bot (global). Japan East or Japan West for Japanese municipalities.')
param location string

@description('Object id of the person or pipeline running the deployment: it may read and write vault secrets (azd: AZURE_PRINCIPAL_ID). Empty: no such role.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Kind of principalId.')
param principalType string = 'User'

@description('Display name of the bot in Azure (the Teams name comes from the app manifest).')
param botDisplayName string = 'Mamoru'

@allowed([
  'F0'
  'S1'
])
@description('Azure Bot pricing tier. Teams is a standard channel: F0 carries it without message limits.')
param botSku string = 'F0'

@description('App Service plan SKU (Linux). B1 or higher: VNet integration, Always On and health checks need it.')
param appServiceSku string = 'B1'

@description('PostgreSQL flexible server SKU name.')
param postgresSkuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
@description('PostgreSQL flexible server tier (must match the SKU).')
param postgresSkuTier string = 'Burstable'

@description('PostgreSQL major version.')
param postgresVersion string = '16'

@description('PostgreSQL administrator login (not a secret; the password is).')
param postgresAdminLogin string = 'mamoruadmin'

@secure()
@minLength(12)
@description('PostgreSQL administrator password. azd fills it (secretOrRandomPassword); never put it in a file.')
param postgresAdminPassword string

@description('PostgreSQL login the app connects as: owns no table, may not change or delete evidence (created by the first migration run).')
param postgresAppLogin string = 'mamoru_app'

@secure()
@minLength(12)
@description('Password of the app\'s PostgreSQL login. azd fills it (secretOrRandomPassword); never put it in a file.')
param postgresAppPassword string

@minValue(1)
@maxValue(146000)
@description('Days each evidence blob version stays immutable (WORM) after it is written.')
param evidenceRetentionDays int = 1825

@description('Read Microsoft Graph for real (microsoft) or use the local Graph service (sandbox). Keep microsoft in Azure.')
@allowed([
  'microsoft'
  'sandbox'
])
param graphMode string = 'microsoft'

@description('Entra object ids of the managers, comma-separated (MAMORU_MANAGER_IDS). May stay empty when a group is used.')
param managerIds string = ''

@description('Entra group whose members are managers (MAMORU_MANAGER_GROUP_ID). Needs GroupMember.Read.All (see deploy/README.md).')
param managerGroupId string = ''

@description('The departments, their managers and staff, as one JSON document (MAMORU_DEPARTMENTS; format in deploy/README.md step 7). Empty: one department managed by managerIds/managerGroupId.')
param departments string = ''

@description('Entra object ids of the organisation-wide role, e.g. the legal section, comma-separated (MAMORU_LEGAL_IDS): sees and exports every case.')
param legalIds string = ''

@description('Entra group of the organisation-wide role (MAMORU_LEGAL_GROUP_ID). Needs GroupMember.Read.All.')
param legalGroupId string = ''

@description('Mailbox (UPN) that sends the organisation notices (MAMORU_DEPARTMENT_MAILBOX); it must be in the opted-in group.')
param departmentMailbox string = ''

@description('Whom staff ask while their managers have not set Mamoru up (MAMORU_ADMIN_CONTACT), e.g. a team and an extension.')
param adminContact string = ''

@description('Department name as written in the organisation mails, e.g. 〇〇区 市民相談課 (MAMORU_DEPARTMENT_NAME); empty blocks sending until set.')
param departmentName string = ''

@description('Signatory of the organisation mails, e.g. 市民相談課長 高橋 一郎 (MAMORU_MAIL_SIGNATORY); empty: the approving manager.')
param mailSignatory string = ''

@description('{department} in the reference of the mail subjects (MAMORU_MAIL_REFERENCE_DEPARTMENT); empty: the department name.')
param mailReferenceDepartment string = ''

@description('Address space of the virtual network that keeps PostgreSQL, Key Vault and Storage private.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Subnets inside vnetAddressPrefix: App Service integration, PostgreSQL, private endpoints.')
param appSubnetPrefix string = '10.40.1.0/24'
param postgresSubnetPrefix string = '10.40.2.0/24'
param endpointsSubnetPrefix string = '10.40.3.0/24'

var tags = {
  'azd-env-name': environmentName
  application: 'mamoru'
}
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-mamoru-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-mamoru-${token}'
    appInsightsName: 'appi-mamoru-${token}'
    location: location
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-mamoru-${token}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appPrefix: appSubnetPrefix
    postgresPrefix: postgresSubnetPrefix
    endpointsPrefix: endpointsSubnetPrefix
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-mamoru-${token}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    version: postgresVersion
    adminLogin: postgresAdminLogin
    adminPassword: postgresAdminPassword
    subnetId: network.outputs.postgresSubnetId
    vnetId: network.outputs.vnetId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-mamoru-${take(token, 13)}'
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    adminPrincipalId: principalId
    adminPrincipalType: principalType
    workspaceId: monitoring.outputs.workspaceId
    postgresAdminPassword: postgresAdminPassword
    // Two roles: the app connects as postgresAppLogin (no ownership, no UPDATE/DELETE on
    // evidence); migrations run as the administrator, who owns the tables and grants the
    // app's role its privileges (bot/store/grants.py).
    databaseUrl: 'postgresql+asyncpg://${postgresAppLogin}:${uriComponent(postgresAppPassword)}@${postgres.outputs.fqdn}:5432/${postgres.outputs.databaseName}?ssl=require'
    migrationDatabaseUrl: 'postgresql+asyncpg://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.outputs.fqdn}:5432/${postgres.outputs.databaseName}?ssl=require'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stmamoru${take(token, 14)}'
    location: location
    tags: tags
    writerPrincipalId: identity.outputs.principalId
    retentionDays: evidenceRetentionDays
    subnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module app 'modules/app.bicep' = {
  name: 'app'
  scope: rg
  params: {
    planName: 'plan-mamoru-${token}'
    siteName: 'app-mamoru-${token}'
    location: location
    tags: tags
    sku: appServiceSku
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    tenantId: tenant().tenantId
    subnetId: network.outputs.appSubnetId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    workspaceId: monitoring.outputs.workspaceId
    vaultName: vault.outputs.name
    databaseUrlSecretName: vault.outputs.databaseUrlSecretName
    migrationDatabaseUrlSecretName: vault.outputs.migrationDatabaseUrlSecretName
    evidenceContainerUrl: storage.outputs.evidenceContainerUrl
    graphMode: graphMode
    managerIds: managerIds
    managerGroupId: managerGroupId
    departments: departments
    legalIds: legalIds
    legalGroupId: legalGroupId
    departmentMailbox: departmentMailbox
    adminContact: adminContact
    departmentName: departmentName
    mailSignatory: mailSignatory
    mailReferenceDepartment: mailReferenceDepartment
  }
}

module bot 'modules/bot.bicep' = {
  name: 'bot'
  scope: rg
  params: {
    name: 'bot-mamoru-${token}'
    displayName: botDisplayName
    tags: tags
    sku: botSku
    endpoint: 'https://${app.outputs.hostname}/api/messages'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    tenantId: tenant().tenantId
  }
}

// Outputs: azd stores each in .azure/<env>/.env; deploy/README.md names them in its next steps.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
@description('Bot app id = the managed identity client id: MAMORU_CLIENT_ID and the manifest botId.')
output MAMORU_BOT_APP_ID string = identity.outputs.clientId
@description('Object id of the managed identity: the Exchange script and Graph app role assignments use it.')
output MAMORU_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output MAMORU_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MAMORU_BOT_NAME string = bot.outputs.name
output MAMORU_WEB_APP_NAME string = app.outputs.name
@description('Host name of the web app: MAMORU_PUBLIC_HOSTNAME and the manifest validDomains.')
output MAMORU_PUBLIC_HOSTNAME string = app.outputs.hostname
@description('Outbound IP address of the web app (NAT gateway): for firewall rules, e.g. on Key Vault.')
output MAMORU_OUTBOUND_IP string = network.outputs.outboundIp
output MAMORU_MESSAGING_ENDPOINT string = 'https://${app.outputs.hostname}/api/messages'
@description('azd reads the PostgreSQL password back from this vault on the next run (secretOrRandomPassword).')
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output AZURE_KEY_VAULT_URI string = vault.outputs.uri
output MAMORU_POSTGRES_SERVER string = postgres.outputs.fqdn
output MAMORU_STORAGE_ACCOUNT string = storage.outputs.name
output MAMORU_EVIDENCE_CONTAINER_URL string = storage.outputs.evidenceContainerUrl
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
