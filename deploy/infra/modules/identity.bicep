// The user-assigned managed identity: the bot's identity (Azure Bot msaAppType
// UserAssignedMSI), its Graph identity (scoped by deploy/exchange/), and its way into
// Key Vault and the evidence container. No client secret exists anywhere.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
