// form_post response mode: post the authorization response back to the app.
document.addEventListener("DOMContentLoaded", function () {
  document.getElementById("response-form").submit();
});
