<#
.SYNOPSIS
    Mamoru のメール権限を「同意した職員のメールボックス」だけに限定します (Exchange Online RBAC for Applications)。
    Scopes Mamoru's mail permissions to the mailboxes of staff who opted in (Exchange Online RBAC for Applications).

.DESCRIPTION
    日本語:
      1. Mamoru のマネージド ID を Exchange Online のサービス プリンシパルとして登録します (New-ServicePrincipal)。
      2. 対象グループ (メールが有効なセキュリティ グループ) のメンバーだけを含む管理スコープを作ります
         (New-ManagementScope -RecipientRestrictionFilter "MemberOfGroup -eq '<DN>'")。
         代わりに管理単位 (Administrative Unit) を使うこともできます (-AdministrativeUnitId)。
      3. 次の 4 つのアプリケーション ロールを、そのスコープに限って割り当てます:
           Application Mail.ReadWrite          証拠メールの検索・専用フォルダーへの移動・MIME の取得
           Application MailboxSettings.ReadWrite 受信トレイ ルール (同じ送信者のメールを証拠フォルダーへ)
           Application Mail.Send               承認された警告・通知メールの送信 (部署のメールボックスから)
           Application Calendars.ReadWrite     1on1 フォローアップの予定 (部署のメールボックスの予定表に作り、管理職を招待)
      4. Test-ServicePrincipalAuthorization で、対象内のメールボックスでは許可され、対象外では拒否されることを確かめます。
      何度実行しても同じ結果になります (既にあるものは作り直さず、違っていれば直します)。

    English:
      1. Registers Mamoru's managed identity as an Exchange Online service principal.
      2. Creates a management scope holding only the members of a mail-enabled security group
         (or uses an administrative unit with -AdministrativeUnitId).
      3. Assigns the four application roles above, limited to that scope.
      4. Checks with Test-ServicePrincipalAuthorization: allowed for an in-scope mailbox, refused
         for an out-of-scope one.
      Idempotent: existing objects are kept, or corrected when they differ.

    !!! 警告 / WARNING !!!
      Microsoft Entra 管理センターで、同じ Microsoft Graph のアプリケーションの許可
      (Mail.ReadWrite, MailboxSettings.ReadWrite, Mail.Send, Calendars.ReadWrite) に
      テナント全体の管理者の同意を与えてはいけません。RBAC for Applications は Entra の同意に
      「追加」されるもので、制限はしません。同意があると、Mamoru は全職員のメールボックスに
      アクセスできてしまいます。
      Do NOT grant tenant-wide Entra admin consent for the same Microsoft Graph application
      permissions. RBAC for Applications ADDS to an Entra consent, it does not limit it: with
      such a consent, Mamoru could reach every mailbox of the tenant. -CheckEntraConsent looks.

.PARAMETER AppId
    マネージド ID のクライアント ID (azd の出力 MAMORU_IDENTITY_CLIENT_ID)。
    Client id of the managed identity (azd output MAMORU_IDENTITY_CLIENT_ID).

.PARAMETER ServicePrincipalObjectId
    マネージド ID のオブジェクト ID (azd の出力 MAMORU_IDENTITY_PRINCIPAL_ID)。
    Object id of the managed identity's service principal (azd output MAMORU_IDENTITY_PRINCIPAL_ID).

.PARAMETER ScopeGroup
    同意した職員を入れるメールが有効なセキュリティ グループ (名前またはメール アドレス)。
    The mail-enabled security group of the staff who opted in (name or address).

.PARAMETER AdministrativeUnitId
    グループの代わりに管理単位を使う場合、その ID。
    Use this administrative unit instead of a group.

.PARAMETER InScopeMailbox
    確認用: グループのメンバーのメールボックス (許可されるはず)。
    For the check: a mailbox of a group member (must be allowed).

.PARAMETER OutOfScopeMailbox
    確認用: グループ外のメールボックス (拒否されるはず)。
    For the check: a mailbox outside the group (must be refused).

.PARAMETER CheckEntraConsent
    Microsoft Graph PowerShell (Connect-MgGraph 済み) で、禁止されたテナント全体の同意がないか確かめます。
    With Microsoft Graph PowerShell connected, look for the forbidden tenant-wide consents.

.EXAMPLE
    Connect-ExchangeOnline -UserPrincipalName admin@city.example.lg.jp
    ./Grant-MamoruMailboxAccess.ps1 -AppId $env:MAMORU_IDENTITY_CLIENT_ID `
        -ServicePrincipalObjectId $env:MAMORU_IDENTITY_PRINCIPAL_ID `
        -ScopeGroup mamoru-protected@city.example.lg.jp `
        -InScopeMailbox staff1@city.example.lg.jp -OutOfScopeMailbox mayor@city.example.lg.jp
#>
#Requires -Version 7.0
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Group')]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $ServicePrincipalObjectId,

    [Parameter(Mandatory = $true, ParameterSetName = 'Group')]
    [string] $ScopeGroup,

    [Parameter(Mandatory = $true, ParameterSetName = 'AdministrativeUnit')]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $AdministrativeUnitId,

    [string] $InScopeMailbox,
    [string] $OutOfScopeMailbox,
    [string] $DisplayName = 'Mamoru',
    [string] $ScopeName = 'Mamoru - opted-in mailboxes',
    [switch] $CheckEntraConsent
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# Mamoru が必要とするロールと理由 / The roles Mamoru needs, and why.
$Roles = [ordered]@{
    'Application Mail.ReadWrite'            = 'find, move and read (MIME) the harasser''s mail into the evidence folder'
    'Application MailboxSettings.ReadWrite' = 'create the inbox rule that files new mail from the same sender as evidence'
    'Application Mail.Send'                 = 'send the warning and notice mails a manager approved'
    'Application Calendars.ReadWrite'       = 'create the 1:1 follow-up in the department mailbox''s calendar, inviting the manager'
}

# Exchange Online に接続済みか / Connected to Exchange Online?
if (-not (Get-Command Get-ConnectionInformation -ErrorAction SilentlyContinue) -or
    -not (Get-ConnectionInformation)) {
    throw 'Connect-ExchangeOnline を先に実行してください / Run Connect-ExchangeOnline first (ExchangeOnlineManagement 3.x).'
}

Write-Warning ('テナント全体の管理者の同意を Mail.* / MailboxSettings.* / Calendars.* に与えないでください。' +
    ' Never grant tenant-wide admin consent for these Graph permissions: RBAC for Applications adds to it.')

# 1. サービス プリンシパル / Service principal -------------------------------------------
$sp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId -ErrorAction SilentlyContinue
if ($null -eq $sp) {
    if ($PSCmdlet.ShouldProcess($DisplayName, 'New-ServicePrincipal')) {
        $sp = New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $DisplayName
        Write-Host "created service principal $($sp.DisplayName) ($AppId)"
    }
} elseif ($sp.AppId -ne $AppId) {
    throw "service principal $ServicePrincipalObjectId has AppId $($sp.AppId), not $AppId"
} else {
    Write-Host "service principal $($sp.DisplayName) exists"
}

# 2. 管理スコープ / Management scope -------------------------------------------------------
$scopeArgs = @{}
if ($PSCmdlet.ParameterSetName -eq 'Group') {
    $group = Get-Group -Identity $ScopeGroup
    if ($group.RecipientTypeDetails -ne 'MailUniversalSecurityGroup') {
        throw "$ScopeGroup は $($group.RecipientTypeDetails) です。メールが有効なセキュリティ グループを指定してください / must be a mail-enabled security group"
    }
    $filter = "MemberOfGroup -eq '$($group.DistinguishedName)'"
    $scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
    if ($null -eq $scope) {
        if ($PSCmdlet.ShouldProcess($ScopeName, "New-ManagementScope $filter")) {
            $scope = New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $filter
            Write-Host "created management scope '$ScopeName': $filter"
        }
    } elseif ($scope.RecipientFilter -ne $filter) {
        if ($PSCmdlet.ShouldProcess($ScopeName, "Set-ManagementScope $filter")) {
            Set-ManagementScope -Identity $ScopeName -RecipientRestrictionFilter $filter
            Write-Host "updated management scope '$ScopeName': $filter"
        }
    } else {
        Write-Host "management scope '$ScopeName' exists: $filter"
    }
    $scopeArgs['CustomResourceScope'] = $ScopeName
} else {
    $scopeArgs['RecipientAdministrativeUnitScope'] = $AdministrativeUnitId
}

# 3. ロールの割り当て / Role assignments ---------------------------------------------------
foreach ($role in $Roles.Keys) {
    $name = "Mamoru - $role"
    $existing = @(Get-ManagementRoleAssignment -RoleAssignee $ServicePrincipalObjectId -Role $role -ErrorAction SilentlyContinue)
    $wanted = if ($scopeArgs.ContainsKey('CustomResourceScope')) { $ScopeName } else { $AdministrativeUnitId }
    $right = @($existing | Where-Object {
            ($_.CustomResourceScope -eq $wanted) -or
            (($_.RecipientWriteScope -eq 'AdministrativeUnit') -and ("$($_.CustomRecipientWriteScope)" -match [regex]::Escape($wanted)))
        })
    if ($right.Count -gt 0) {
        Write-Host "role '$role' already scoped"
        continue
    }
    foreach ($wrong in $existing) {
        # 範囲が違う (例: 組織全体) 割り当ては外します / Remove assignments with another (e.g. tenant-wide) scope.
        if ($PSCmdlet.ShouldProcess($wrong.Name, 'Remove-ManagementRoleAssignment (wrong scope)')) {
            Remove-ManagementRoleAssignment -Identity $wrong.Identity -Confirm:$false
            Write-Host "removed '$($wrong.Name)': its scope was not '$wanted'"
        }
    }
    if ($PSCmdlet.ShouldProcess($name, "New-ManagementRoleAssignment -Role '$role'")) {
        New-ManagementRoleAssignment -Name $name -App $ServicePrincipalObjectId -Role $role @scopeArgs | Out-Null
        Write-Host "assigned '$role' ($($Roles[$role]))"
    }
}

# 4. 確認 / Check -------------------------------------------------------------------------
# Test-ServicePrincipalAuthorization はキャッシュを通さず判定します (実際の反映には 30 分～2 時間かかることがあります)。
# It evaluates without the cache; the assignments may take 30 minutes to 2 hours to apply to Graph calls.
$failed = $false
function Test-Mailbox([string] $mailbox, [bool] $expected) {
    $results = Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId -Resource $mailbox
    foreach ($role in $Roles.Keys) {
        $row = @($results | Where-Object { $_.RoleName -eq $role })
        $inScope = ($row.Count -gt 0) -and [bool]($row | Where-Object { $_.InScope } | Select-Object -First 1)
        $verdict = if ($inScope -eq $expected) { 'OK' } else { 'NG' }
        Write-Host ("{0}  {1,-40} {2,-38} InScope={3} (expected {4})" -f $verdict, $mailbox, $role, $inScope, $expected)
        if ($inScope -ne $expected) { $script:failed = $true }
    }
}
if ($InScopeMailbox) { Test-Mailbox $InScopeMailbox $true }
if ($OutOfScopeMailbox) { Test-Mailbox $OutOfScopeMailbox $false }
if (-not $InScopeMailbox -or -not $OutOfScopeMailbox) {
    Write-Warning 'Pass -InScopeMailbox and -OutOfScopeMailbox to check both sides / 両方のメールボックスで確認してください。'
}

# 5. 禁止された Entra の同意がないか / No forbidden tenant-wide Entra consent -------------------
if ($CheckEntraConsent) {
    if (-not (Get-Command Get-MgServicePrincipalAppRoleAssignment -ErrorAction SilentlyContinue) -or -not (Get-MgContext)) {
        throw 'Connect-MgGraph -Scopes Application.Read.All first (Microsoft.Graph PowerShell) for -CheckEntraConsent'
    }
    $graph = Get-MgServicePrincipal -Filter "appId eq '00000003-0000-0000-c000-000000000000'"
    $forbidden = @('Mail.Read', 'Mail.ReadBasic', 'Mail.ReadBasic.All', 'Mail.ReadWrite', 'Mail.Send',
        'MailboxSettings.Read', 'MailboxSettings.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite')
    $granted = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipalObjectId -All |
        Where-Object { $_.ResourceId -eq $graph.Id } |
        ForEach-Object { $id = $_.AppRoleId; ($graph.AppRoles | Where-Object { $_.Id -eq $id }).Value })
    $bad = @($granted | Where-Object { $forbidden -contains $_ })
    if ($bad.Count -gt 0) {
        Write-Error ("テナント全体の同意が見つかりました。Entra から削除してください / tenant-wide consent found, remove it in Entra: " + ($bad -join ', ')) -ErrorAction Continue
        $failed = $true
    } else {
        Write-Host "OK  no tenant-wide Graph mail/calendar consent (granted: $($granted -join ', '))"
    }
}

if ($failed) {
    Write-Error 'Check failed / 確認に失敗しました: see the NG lines above.' -ErrorAction Continue
    exit 1
}
Write-Host 'done / 完了'
